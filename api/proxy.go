package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/warder/warder"
)

// proxyAgent is /api/agents/{id}/proxy/{path...}, any method: the request
// goes on to the agent's port as /{path...} with its query, body and
// headers, less the caller's Authorization and Cookie (meant for Warder,
// not the agent) and the hop-by-hop headers; the answer comes back as it
// is written, less what an untrusted agent must not say in Warder's name
// (see untrustedAnswer). The body is not capped here: the agent sets its
// own limits.
func (s *Server) proxyAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	// Each proxied request holds a connection to the agent for as long as
	// it lasts (an event stream, a websocket): it counts as a stream.
	release, err := s.streams.hold(caller.ID)
	if err != nil {
		return err
	}
	defer release()
	id := r.PathValue("id")
	target, err := s.chat.AgentEndpoint(r.Context(), caller, id)
	if err != nil {
		return err
	}
	// Streams through the proxy end when Warder shuts down.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.closing, cancel)()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = proxiedPath(pr.In, id)
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			pr.SetXForwarded()
		},
		ModifyResponse: func(resp *http.Response) error {
			untrustedAnswer(resp.Header)
			// An event stream stays open: not a slow request for metrics.
			if t := trackedOf(w); t != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.streamed = true
			}
			return nil
		},
		Transport:     s.agentTransport,
		FlushInterval: -1, // every write at once: streams stay streams
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away, or Warder is shutting down
			}
			s.writeError(w, r, warder.Errorf(warder.ErrBadGateway, "the agent did not answer: %v", unwrapURL(err)))
		},
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
	return nil
}

// proxiedPath is the part of the request's path after .../proxy, escaped
// as the caller escaped it (so a %2F stays one segment).
func proxiedPath(r *http.Request, id string) (path, rawPath string) {
	prefix := "/api/agents/" + id + "/proxy"
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix); ok && strings.HasPrefix(rest, "/") {
		if p, err := url.PathUnescape(rest); err == nil {
			return p, rest
		}
	}
	return "/" + r.PathValue("path"), ""
}

// proxiedCSP is the Content-Security-Policy of every proxied answer. A
// bare sandbox (no allow-* tokens) makes a document a browser renders from
// it a unique opaque origin with no scripts, forms, popups or plugins: an
// agent's page, though served from Warder's origin, can neither read
// Warder's storage nor act as Warder. API clients are unaffected; an agent
// that wants a web UI serves it on its own port, its own origin.
const proxiedCSP = "sandbox"

// untrustedAnswer rewrites the headers of an agent's answer: the agent
// may not set cookies, widen Warder's cross-origin policy, clear a
// browser's data for Warder's origin, pin HTTPS for it or let a service
// worker control it; and a browser must take the content as sandboxed
// and as the type it is labelled.
func untrustedAnswer(h http.Header) {
	const cors = "access-control-"
	for name := range h {
		if len(name) >= len(cors) && strings.EqualFold(name[:len(cors)], cors) {
			delete(h, name)
		}
	}
	for _, name := range []string{"Set-Cookie", "Set-Cookie2", "Clear-Site-Data", "Strict-Transport-Security", "Service-Worker-Allowed"} {
		h.Del(name)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	// Added, not set: every policy is enforced, so the agent's own can
	// only narrow this one.
	h.Add("Content-Security-Policy", proxiedCSP)
}

// newAgentTransport is how the proxy reaches agents: directly (never
// through an HTTP proxy from the environment), with bounded waits for a
// connection and for the answer to begin.
func newAgentTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: 5 * time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
}

func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
