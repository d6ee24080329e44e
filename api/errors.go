package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/warder/warder"
)

// statusClientGone is what the log and metrics show for a request whose
// client left before the answer (nginx's 499; no client sees it).
const statusClientGone = 499

// kindStatuses maps error kinds to the HTTP statuses the API answers them
// with, in the order they are tried.
var kindStatuses = []struct {
	kind   error
	status int
}{
	{warder.ErrInvalid, http.StatusBadRequest},
	{warder.ErrUnauthorized, http.StatusUnauthorized},
	{warder.ErrForbidden, http.StatusForbidden},
	{warder.ErrNotFound, http.StatusNotFound},
	{warder.ErrConflict, http.StatusConflict},
	{warder.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{warder.ErrUnavailable, http.StatusServiceUnavailable},
	{warder.ErrBadGateway, http.StatusBadGateway},
	{warder.ErrRateLimited, http.StatusTooManyRequests},
	{warder.ErrNotSupported, http.StatusNotImplemented},
}

// statusOf is the HTTP status the API answers err with and the kind that
// decides it; an error of no kind is 500 with a nil kind.
func statusOf(err error) (status int, kind error) {
	for _, ks := range kindStatuses {
		if errors.Is(err, ks.kind) {
			return ks.status, ks.kind
		}
	}
	return http.StatusInternalServerError, nil
}

// StatusOf is the HTTP status the API answers err with: 500 for an error
// of no kind. The audit log records it for what the service does outside
// an answer of its own (see AuditStatuses).
func StatusOf(err error) int {
	status, _ := statusOf(err)
	return status
}

// writeError is the one place an error becomes a response. An error with
// no kind is internal: it is logged with the request id, and the caller
// sees only that id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	reqID := r.Header.Get("X-Request-ID")
	if status, kind := statusOf(err); kind != nil {
		msg := clip(warder.ErrorMessage(err), maxDetail)
		if msg == "" {
			msg = kind.Error()
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "Bearer")
		}
		var rl *warder.RateLimitError
		if errors.As(err, &rl) {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
		}
		noteDetail(w, msg)
		writeJSON(w, status, warder.ErrorResponse{Detail: msg})
		return
	}
	// A client that left mid-request (a browser navigating away) cancels
	// the work it asked for: not a fault of Warder's. Nobody reads the
	// answer; it is written only so the request is logged and counted.
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		s.log.DebugContext(r.Context(), "client gone", "method", echoed(r.Method), "path", echoed(r.URL.Path))
		noteDetail(w, "client gone")
		writeJSON(w, statusClientGone, warder.ErrorResponse{Detail: "the client closed the request"})
		return
	}
	// The logger adds the request id from the context.
	s.log.ErrorContext(r.Context(), "internal error", "method", echoed(r.Method), "path", echoed(r.URL.Path), "err", err)
	noteDetail(w, "internal error")
	writeJSON(w, http.StatusInternalServerError, warder.ErrorResponse{Detail: "internal error (request id " + reqID + ")"})
}

// writeJSON writes v with status. It encodes before writing anything, so
// an error it returns leaves the response untouched for writeError; a
// failed write means the client has gone, and there is no one to tell.
// The body is built once (json.Marshal would copy it, and appending the
// newline again): answers such as logs may be megabytes.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	return json.NewEncoder(jsonBody{w, status}).Encode(v)
}

// jsonBody sends the headers with the body, which json.Encoder writes in
// one call once v is wholly encoded.
type jsonBody struct {
	w      http.ResponseWriter
	status int
}

func (j jsonBody) Write(b []byte) (int, error) {
	j.w.Header().Set("Content-Type", "application/json")
	j.w.WriteHeader(j.status)
	j.w.Write(b)
	return len(b), nil
}

// decode reads one JSON object into v strictly: unknown fields, trailing
// data and oversized bodies are errors that say what is wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return warder.Errorf(warder.ErrInvalid, "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return warder.Errorf(warder.ErrTooLarge, "request body is larger than %d bytes", tooBig.Limit)
	case errors.As(err, &netErr) && netErr.Timeout():
		return warder.Errorf(warder.ErrInvalid, "request body did not arrive in time")
	case errors.Is(err, io.EOF):
		return warder.Errorf(warder.ErrInvalid, "request body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return warder.Errorf(warder.ErrInvalid, "request body is not valid JSON: %v", err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return warder.Errorf(warder.ErrInvalid, "request body must be a JSON object, not %s", typ.Value)
		}
		return warder.Errorf(warder.ErrInvalid, "field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if why, ok := forbidden[strings.Trim(field, `"`)]; ok {
			return warder.Errorf(warder.ErrInvalid, "field %s is not allowed: %s", field, why)
		}
		return warder.Errorf(warder.ErrInvalid, "unknown field %s", field)
	}
	return warder.Errorf(warder.ErrInvalid, "request body could not be read: %v", err)
}

// forbidden are container settings a user may not ask for, with the
// reason; Warder sets each of them itself, for every agent.
var forbidden = map[string]string{
	"privileged":    "agent containers never run privileged",
	"cap_add":       "agent containers run with every capability dropped",
	"capabilities":  "agent containers run with every capability dropped",
	"security_opt":  "agent containers run with no-new-privileges",
	"network_mode":  "agent containers never join the host's network",
	"host_network":  "agent containers never join the host's network",
	"pid_mode":      "agent containers never share the host's namespaces",
	"ipc_mode":      "agent containers never share the host's namespaces",
	"volumes":       "agent containers get no host mounts",
	"mounts":        "agent containers get no host mounts",
	"binds":         "agent containers get no host mounts",
	"devices":       "agent containers get no devices",
	"user":          "the image decides the (non-root) user",
	"read_only":     "agent containers always have a read-only root filesystem",
	"pids_limit":    "Warder sets the process limit",
	"memory_swap":   "swap always equals memory_limit",
	"runtime":       "Warder chooses the container runtime",
	"sysctls":       "agent containers cannot change kernel settings",
	"ulimits":       "Warder sets the limits",
	"extra_hosts":   "agent containers cannot change their name resolution",
	"dns":           "agent containers cannot change their name resolution",
	"publish_all":   "Warder publishes exactly one port per agent",
	"port_bindings": "Warder publishes exactly one port per agent",
}

func jsonKind(goKind string) string {
	switch goKind {
	case "float64", "float32", "int", "int64", "int32", "uint64":
		return "a number"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	}
	return fmt.Sprintf("of type %s", goKind)
}

// validRequestID reports whether a client's X-Request-ID is one Warder
// takes: 1 to 64 letters, digits and "._:-", so it goes into logs, the
// audit log and the answer's header as it came.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// bearer extracts the token from an Authorization: Bearer header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
