package llmgateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/warder/warder"
)

// writeError answers err as Warder does ({"detail": ...}, status from
// its kind) and as OpenAI's clients read errors ({"error": {"message":
// ...}}), in one body: the SDKs show error.message, Warder's tools detail.
func writeError(w http.ResponseWriter, err error) {
	status, kind := statusOf(err)
	msg := warder.ErrorMessage(err)
	if msg == "" {
		msg = "internal error"
	}
	var rl *warder.RateLimitError
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(rl.RetryAfter.Seconds()))))
	}
	typ := "warder_gateway_error"
	switch kind {
	case warder.ErrRateLimited:
		typ = "insufficient_quota"
	case warder.ErrUnauthorized:
		typ = "invalid_api_key"
	case warder.ErrInvalid, warder.ErrTooLarge:
		typ = "invalid_request_error"
	}
	body := map[string]any{"detail": msg, "error": map[string]any{"message": msg, "type": typ, "code": typ}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// statuses are the HTTP statuses of the error kinds the gateway answers
// with, as the API answers them (the gateway is served beside the API,
// not through its error writer: the body has OpenAI's shape as well).
var statuses = []struct {
	kind   error
	status int
}{
	{warder.ErrInvalid, 400},
	{warder.ErrUnauthorized, 401},
	{warder.ErrNotFound, 404},
	{errMethod, 405},
	{warder.ErrTooLarge, 413},
	{warder.ErrRateLimited, 429},
	{warder.ErrBadGateway, 502},
	{warder.ErrUnavailable, 503},
}

// statusOf is err's status and kind; 500 and nil for any other error.
func statusOf(err error) (int, error) {
	for _, s := range statuses {
		if errors.Is(err, s.kind) {
			return s.status, s.kind
		}
	}
	return 500, nil
}

// errMethod is a route asked with a method it does not take.
var errMethod = errors.New("method not allowed")

// notFound answers what no route takes, in the gateway's error shape:
// 405 for a route's path asked with another method, else 404.
func notFound(w http.ResponseWriter, r *http.Request) {
	for _, p := range []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"} {
		if r.URL.Path == p {
			writeError(w, warder.Errorf(errMethod, "%s does not take %s", p, r.Method))
			return
		}
	}
	writeError(w, warder.Errorf(warder.ErrNotFound, "the LLM gateway serves /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models only"))
}

// sseError is the event a stream ends with when the gateway cuts it: the
// header is gone, so the failure is told in the stream's own terms.
func sseError(msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "warder_gateway_error"}})
	return append(append([]byte("data: "), b...), "\n\n"...)
}

// badGateway is an upstream failure told to the caller.
func badGateway(msg string) error { return warder.Errorf(warder.ErrBadGateway, "%s", msg) }
