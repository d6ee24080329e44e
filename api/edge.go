package api

import (
	"io"
	"net/http"
	"time"
	"unicode/utf8"
)

// The bounds on what a caller, signed in or not, can make the server
// hold, repeat or count.
const (
	// MaxBodyBytes caps every request body but the proxy's.
	MaxBodyBytes = 1 << 20
	// DefaultBodyTimeout is how long a request body (but the proxy's) may
	// take to arrive: 1 MiB at 35 KB/s. A client that sends a byte a
	// second holds a connection no longer than this.
	DefaultBodyTimeout = 30 * time.Second
	// maxEchoed is how much of a caller's path or method a response or a
	// log line repeats.
	maxEchoed = 200
	// maxDetail is how much of an error message a response (and the audit
	// log) carries; messages quote the caller's input.
	maxDetail = 2048
)

// proxyRoute is the one route whose body is neither capped nor timed: it
// goes to the agent, which sets its own limits (uploads, websockets).
const proxyRoute = "/api/agents/{id}/proxy/{path...}"

// bound caps r's body and bounds the time it may take to arrive, unless
// r goes to the proxy; an upload has bounds of its own. It asks the mux which route r matches, so it sees
// the same (escaped) path the router does: /api/agents/x%2Fproxy%2Fy is
// PUT /api/agents/{id}, capped, whatever its decoded path looks like.
func (s *Server) bound(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil {
		return
	}
	_, route := s.mux.Handler(r)
	if route == proxyRoute {
		return
	}
	limit, timeout := int64(MaxBodyBytes), s.bodyTimeout
	if route == llmRoute {
		limit = -1 // the gateway bounds its requests itself (16 MiB, 413 in OpenAI's shape too)
	}
	if route == uploadRoute || route == OpenSandboxPrefix+"/" {
		// OpenSandbox's execd uploads files too; its JSON routes bound
		// their own bodies (1 MiB).
		// The files in an upload are bounded exactly by the service; the
		// body also holds a tar's headers and padding.
		limit, timeout = s.uploadBytes+s.uploadBytes/8+1<<20, s.uploadTimeout
	}
	if r.Body != http.NoBody && timeout > 0 {
		// Errors mean the writer cannot set deadlines (a test recorder).
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			r.Body = &timedBody{ReadCloser: r.Body, rc: rc}
		}
	}
	if limit >= 0 {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
}

// timedBody lifts the read deadline once the body has been read to its
// end. The deadline is for the upload only: once the body is read, the
// server's background read (which notices a client leaving) would take
// its expiry for a dead connection and cancel a slow handler, such as a
// start or a chat waiting for its model (golang/go#70834; Go 1.27 clears
// it too). After any other error the deadline stays, so what the server
// discards of an unread body is bounded as well.
type timedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// clip shortens s, a string the caller chose, to max bytes (on a rune
// boundary) and marks the cut with "…".
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// echoed is a path or method as responses and logs repeat it.
func echoed(s string) string { return clip(s, maxEchoed) }

// methodLabel is r's method as a metrics label: the standard methods,
// else "other", so no caller can create series at will.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
