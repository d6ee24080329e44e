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

// sseError is the event a stream ends with when the gateway cuts it: the
// header is gone, so the failure is told in the stream's own terms.
func sseError(msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "warder_gateway_error"}})
	return append(append([]byte("data: "), b...), "\n\n"...)
}

// badGateway is an upstream failure told to the caller.
func badGateway(msg string) error { return warder.Errorf(warder.ErrBadGateway, "%s", msg) }
