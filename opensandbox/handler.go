package opensandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/inproc"
)

// Prefix is where the OpenSandbox API is served on Warder: an SDK's
// domain is http://host:8000/api/opensandbox (the SDK adds /v1).
const Prefix = "/api/opensandbox"

// maxJSON bounds a request's JSON body.
const maxJSON = 1 << 20

// Options configure a Handler.
type Options struct {
	// API is Warder's own API handler: every call the OpenSandbox API
	// makes goes through it in process, with the caller's credential,
	// so it passes the same authentication, ownership checks, quotas,
	// image policy, bounds and audit as a call to Warder's own API.
	API http.Handler
	// Key seals the endpoint tokens (see endpoint.go); 32 bytes.
	Key []byte
	Log *slog.Logger
}

// Handler serves OpenSandbox's lifecycle API and the execd API its
// endpoints lead to, for Warder's agents (docs/compatibility.md).
type Handler struct {
	api      http.Handler
	sealer   *sealer
	log      *slog.Logger
	mux      *http.ServeMux
	commands *commands
}

// New returns the OpenSandbox API handler, to be mounted at Prefix.
func New(o Options) (*Handler, error) {
	s, err := newSealer(o.Key)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{api: o.API, sealer: s, log: o.Log, mux: http.NewServeMux(), commands: newCommands()}
	for _, r := range h.routeTable() {
		h.mux.Handle(r.pattern, r.handler)
	}
	h.mux.Handle("/", h.call(func(w http.ResponseWriter, r *http.Request, c *client.Client) error {
		return apiErr(http.StatusNotFound, "NOT_FOUND", "no such OpenSandbox route on Warder: "+r.Method+" "+r.URL.Path)
	}))
	return h, nil
}

type route struct {
	pattern string
	handler http.Handler
}

// routeTable is every route of the OpenSandbox API that Warder serves,
// one per line. The data plane (execd, and the agent's own port) is
// under /sandboxes/{id}/proxy/{port}/, where GetEndpoint points.
func (h *Handler) routeTable() []route {
	v := Prefix + "/v1"
	return []route{
		{"POST " + v + "/sandboxes", h.call(h.createSandbox)},
		{"GET " + v + "/sandboxes", h.call(h.listSandboxes)},
		{"GET " + v + "/sandboxes/{id}", h.call(h.getSandbox)},
		{"DELETE " + v + "/sandboxes/{id}", h.call(h.deleteSandbox)},
		{"POST " + v + "/sandboxes/{id}/pause", h.call(h.pauseSandbox)},
		{"POST " + v + "/sandboxes/{id}/resume", h.call(h.resumeSandbox)},
		{"POST " + v + "/sandboxes/{id}/renew-expiration", h.call(h.renewSandbox)},
		{"PATCH " + v + "/sandboxes/{id}/metadata", h.call(h.patchMetadata)},
		{"GET " + v + "/sandboxes/{id}/endpoints/{port}", h.call(h.getEndpoint)},
		{"GET " + v + "/sandboxes/{id}/networkpolicy", h.call(h.getPolicy)},
		{"PATCH " + v + "/sandboxes/{id}/networkpolicy", h.call(h.patchPolicy)},
		{"DELETE " + v + "/sandboxes/{id}/networkpolicy", h.call(h.deletePolicyRules)},
		{"POST " + v + "/sandboxes/{id}/snapshots", h.call(h.createSnapshot)},
		{"GET " + v + "/snapshots", h.call(h.listSnapshots)},
		{"GET " + v + "/snapshots/{sid}", h.call(h.getSnapshot)},
		{"DELETE " + v + "/snapshots/{sid}", h.call(h.deleteSnapshot)},
		{"GET " + v + "/sandboxes/{id}/diagnostics/context", h.call(h.diagnosticContext)},
		{"GET " + v + "/sandboxes/{id}/diagnostics/logs", h.call(h.diagnosticLogs)},
		{"GET " + v + "/sandboxes/{id}/diagnostics/events", h.call(h.diagnosticEvents)},
		{"POST " + v + "/metrics/events", h.call(h.metricsEvent)},
		{v + "/templates", h.call(h.notOffered("templates (golden-image builds)"))},
		{v + "/templates/", h.call(h.notOffered("templates (golden-image builds)"))},
		{v + "/sandboxes/{id}/credential-vault", h.call(h.notOffered("the credential vault (Warder keeps secrets in secret_env and the LLM gateway)"))},
		{v + "/sandboxes/{id}/credential-vault/", h.call(h.notOffered("the credential vault (Warder keeps secrets in secret_env and the LLM gateway)"))},
		{v + "/sandboxes/{id}/proxy/{port}/{path...}", http.HandlerFunc(h.dataPlane)},
	}
}

// ServeHTTP answers one request of the OpenSandbox API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// apiError is an answer in the spec's error shape.
type apiError struct {
	status int
	body   errorBody
}

func (e *apiError) Error() string { return e.body.Message }

func apiErr(status int, code, msg string) error {
	return &apiError{status: status, body: errorBody{Code: code, Message: msg}}
}

func badRequest(format string, args ...any) error {
	return apiErr(http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf(format, args...))
}

// notOffered answers what Warder does not offer, in the spec's shape.
func (h *Handler) notOffered(what string) func(http.ResponseWriter, *http.Request, *client.Client) error {
	return func(http.ResponseWriter, *http.Request, *client.Client) error {
		return apiErr(http.StatusNotImplemented, "NOT_SUPPORTED", "Warder does not offer "+what+" (docs/compatibility.md)")
	}
}

// codes names Warder's statuses in the spec's error codes.
var codes = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
	409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 416: "RANGE_NOT_SATISFIABLE", 422: "INVALID_ARGUMENT",
	429: "RATE_LIMITED", 501: "NOT_SUPPORTED", 503: "UNAVAILABLE",
}

// writeErr answers err in the spec's shape: Warder's own answers keep
// their status and detail; anything else is an internal error whose
// text stays in the log.
func (h *Handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ce *client.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ce) && ce.Status >= 400:
		code := codes[ce.Status]
		if code == "" {
			code = strings.ToUpper(strings.ReplaceAll(http.StatusText(ce.Status), " ", "_"))
		}
		ae = &apiError{status: ce.Status, body: errorBody{Code: code, Message: ce.Detail}}
		if ce.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(ce.RetryAfter.Seconds()+0.999)))
		}
	case r.Context().Err() != nil:
		return // the caller is gone
	default:
		id := newID()
		h.log.ErrorContext(r.Context(), "opensandbox API", "method", r.Method, "path", r.URL.Path, "err", err, "error_id", id)
		ae = &apiError{status: http.StatusInternalServerError, body: errorBody{Code: "INTERNAL_ERROR", Message: "internal error (id " + id + ")"}}
	}
	writeJSON(w, ae.status, ae.body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body of at most maxJSON bytes into v.
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJSON+1)).Decode(v); err != nil {
		return badRequest("the request body is not the JSON this route takes: %v", err)
	}
	return nil
}

// call authenticates a lifecycle request with the SDK's API key header
// (a Warder API key or login token) and runs fn with a client of
// Warder's API that signs in with it.
func (h *Handler) call(fn func(http.ResponseWriter, *http.Request, *client.Client) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxJSON)
		cred := lifecycleCredential(r)
		if cred == "" {
			h.writeErr(w, r, apiErr(http.StatusUnauthorized, "UNAUTHORIZED", "send a Warder API key in the OPEN-SANDBOX-API-KEY header"))
			return
		}
		if err := fn(w, r, h.client(cred)); err != nil {
			h.writeErr(w, r, err)
		}
	})
}

// lifecycleCredential is the credential of a lifecycle request: the
// SDK's header, X-API-Key (the SDK's AuthHeader option), or a bearer.
func lifecycleCredential(r *http.Request) string {
	for _, name := range []string{"OPEN-SANDBOX-API-KEY", "X-API-Key"} {
		if v := strings.TrimSpace(r.Header.Get(name)); v != "" {
			return v
		}
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// client is Warder's Go client calling this process's API with cred.
func (h *Handler) client(cred string) *client.Client {
	return client.New("http://warder.internal", cred, client.WithHTTPClient(&http.Client{Transport: inproc.Transport{Handler: h.api}}))
}

// metricsEvent takes the SDKs' create-latency reports; Warder measures
// its own starts (/metrics), so they are read and dropped.
func (h *Handler) metricsEvent(w http.ResponseWriter, r *http.Request, _ *client.Client) error {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// background is a context for work that outlives its request.
func background(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
