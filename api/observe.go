package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/logctx"
)

// Observer is told what the server does, e.g. to export it as metrics.
type Observer interface {
	// Request is one answered request; route is the ServeMux pattern
	// ("unmatched" when none) and method a standard method or "other",
	// so neither takes values a caller chooses. streamed marks a
	// response that stayed open to stream.
	Request(route, method string, status int, d time.Duration, streamed bool)
	// StreamOpened counts a stream of kind (logs, stats, events) as open
	// until closed is called.
	StreamOpened(kind string) (closed func())
}

type noObserver struct{}

func (noObserver) Request(string, string, int, time.Duration, bool) {}
func (noObserver) StreamOpened(string) func()                       { return func() {} }

// tracked is the ResponseWriter every handler gets: it remembers what the
// answer was and who asked, for the access log, the metrics and the
// audit log. Handlers add what only they know (noteUser, noteAgent).
type tracked struct {
	http.ResponseWriter
	status   int
	user     *warder.User
	agentID  string // the agent a call created, when the path names none
	detail   string // the error the caller was told
	streamed bool
}

// WriteHeader implements http.ResponseWriter.
func (t *tracked) WriteHeader(code int) {
	if t.status == 0 && code >= 200 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (t *tracked) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	return t.ResponseWriter.Write(b)
}

// Flush implements http.Flusher for code that asserts it.
func (t *tracked) Flush() { http.NewResponseController(t.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection.
func (t *tracked) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// trackedOf finds the tracked writer under w; nil outside Server.
func trackedOf(w http.ResponseWriter) *tracked {
	for {
		switch x := w.(type) {
		case *tracked:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// noteUser records who made the call.
func noteUser(w http.ResponseWriter, u *warder.User) {
	if t := trackedOf(w); t != nil {
		t.user = u
	}
}

// noteAgent records the agent a call created.
func noteAgent(w http.ResponseWriter, id string) {
	if t := trackedOf(w); t != nil {
		t.agentID = id
	}
}

// noteDetail records the error message the caller was given.
func noteDetail(w http.ResponseWriter, msg string) {
	if t := trackedOf(w); t != nil {
		t.detail = msg
	}
}

// serve routes r with its id in its context, then logs, counts and (for
// calls that change something) audits it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, id string) {
	start := time.Now()
	t := &tracked{ResponseWriter: w}
	r = r.WithContext(logctx.WithRequestID(r.Context(), id))
	s.mux.ServeHTTP(t, r) // sets r.Pattern
	d := time.Since(start)
	status := t.status
	if status == 0 {
		status = http.StatusOK
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.obs.Request(route, methodLabel(r.Method), status, d, t.streamed)
	level := slog.LevelInfo
	switch route {
	case "GET /healthz", "GET /readyz", "GET /metrics":
		level = slog.LevelDebug // probes and scrapes would drown the rest
	}
	user := ""
	if t.user != nil {
		user = t.user.Username
	}
	s.log.Log(r.Context(), level, "request", "method", echoed(r.Method), "path", echoed(r.URL.Path), "route", route,
		"status", status, "duration", d, "user", user)
	// An MCP request is audited as the API calls its tools make. An exec
	// that ran is audited once, by the service, with its command line and
	// how it ended; one refused before it ran is audited here.
	if t.user != nil && changes(r.Method) && route != mcpRoute && !(route == execRoute && status == http.StatusOK) {
		s.recordAudit(r, t, route, status, id)
	}
}

// execRoute is exec's route: the service audits the commands it runs.
const execRoute = "POST /api/agents/{id}/exec"

// changes reports whether a call with method may change something.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// recordAudit writes the audit entry of a call by a signed-in user. It
// runs after the handler, so the entry holds the real result; it runs
// before the response is complete, so a client that saw the answer can
// read the entry.
func (s *Server) recordAudit(r *http.Request, t *tracked, route string, status int, id string) {
	if s.audit == nil {
		return
	}
	agent := t.agentID
	if agent == "" {
		agent = echoed(r.PathValue("id"))
	}
	result := "ok"
	if status >= 400 {
		result = t.detail
		if result == "" {
			result = http.StatusText(status)
		}
	}
	e := &warder.AuditEntry{
		At: time.Now().UTC(), UserID: t.user.ID, Username: t.user.Username, Action: route,
		AgentID: agent, Status: status, Result: result, RequestID: id,
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.audit.RecordAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "recording audit entry", "action", route, "err", err)
	}
}
