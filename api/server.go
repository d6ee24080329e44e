// Package api is Warder's HTTP interface: routes, handlers and the one
// place that turns errors into statuses. Handlers go parse → validate →
// call the service → respond.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/logctx"
)

// Server holds the services the handlers call.
type Server struct {
	auth    AuthService
	agents  AgentService
	observe ObserveService
	keys    KeyService
	admin   AdminService
	ready   func(ctx context.Context) error
	log     *slog.Logger
	mux     *http.ServeMux
	// patterns are the routes registered on mux, in order.
	patterns []string
	// openAPI is the document describing them, made on first request.
	openAPI openAPIJSON

	audit   AuditService
	metrics http.Handler
	obs     Observer
	// closing ends every open stream when the server shuts down.
	closing      context.Context
	closeStreams context.CancelFunc

	chat ChatService
	// agentTransport carries proxied requests to agents.
	agentTransport http.RoundTripper
	// streams bounds each user's open streams.
	streams *streamSlots
	// bodyTimeout bounds the arrival of a request body; see bound.
	bodyTimeout time.Duration
	// cors lets browsers on other origins call the API; nil: it is off.
	cors *cors
	// ui serves the dashboard at / and /ui/; nil: those are 404s.
	ui http.Handler
	// workspaces: files and exec; nil answers 501 there.
	workspaces WorkspaceService
	// uploadBytes caps an upload's body; uploadTimeout bounds its arrival.
	uploadBytes   int64
	uploadTimeout time.Duration
	// mcpServer serves /api/mcp; nil answers 404 there.
	mcpServer MCP
	// openSandbox serves OpenSandboxPrefix; nil answers 404 there.
	openSandbox http.Handler
	// snapshots: snapshots, restore and fork; nil answers 501 there.
	snapshots SnapshotService
	// llm answers the usage routes; llmGateway is served under /llm/.
	llm        LLMService
	llmGateway http.Handler
}

// Options wires a Server.
type Options struct {
	Auth   AuthService
	Agents AgentService
	// Observe serves logs, stats and status changes.
	Observe ObserveService
	Keys    KeyService
	Admin   AdminService
	// Ready reports whether the store and runtime answer; nil means always.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Audit records every call that changes something; nil records none.
	Audit AuditService
	// Metrics serves GET /metrics; nil answers 404 there.
	Metrics http.Handler
	// Observer is told of every request and stream; nil means nobody.
	Observer Observer
	// Chat talks to agents: chat, conversations and the proxy.
	Chat ChatService
	// MaxStreamsPerUser bounds each user's open streams on this server;
	// 0 means DefaultMaxStreamsPerUser.
	MaxStreamsPerUser int
	// BodyTimeout is how long a request body may take to arrive;
	// 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// CORSOrigins are the origins (scheme://host[:port], or "*") whose
	// pages may call the API from a browser; none means CORS is off.
	// Credentials (cookies) are never allowed: callers send their token.
	CORSOrigins []string
	// UI serves the web dashboard: GET / and GET /ui/... (package web);
	// nil leaves them 404s, as for any unknown path.
	UI http.Handler
	// Workspaces serves agents' files and exec; nil answers 501 there.
	Workspaces WorkspaceService
	// MaxUploadBytes caps the body of a file upload (the service bounds
	// the files in it exactly); 0 means DefaultMaxUploadBytes.
	// UploadTimeout bounds its arrival; 0 means DefaultUploadTimeout.
	MaxUploadBytes int64
	UploadTimeout  time.Duration
	// MCP, given the server itself, returns what serves the Model Context
	// Protocol at POST /api/mcp; nil leaves that route 404.
	MCP func(api http.Handler) MCP
	// OpenSandbox, given the server itself, returns what serves
	// OpenSandbox's sandbox API under OpenSandboxPrefix (package
	// opensandbox); nil leaves it 404.
	OpenSandbox func(api http.Handler) http.Handler
	// Snapshots serves snapshots, restore and fork (and deletes an
	// agent's snapshots with it); nil answers 501 there.
	Snapshots SnapshotService
	// LLM answers the LLM gateway's usage routes; nil answers 501 there.
	LLM LLMService
	// LLMGateway, if set, is the LLM gateway (package llmgateway), served
	// under /llm/ (its /v1/... routes at /llm/v1/...) with its own
	// tokens and error bodies; nil leaves /llm/ a 404.
	LLMGateway http.Handler
}

// DefaultMaxUploadBytes is the default upload bound (256 MiB).
const DefaultMaxUploadBytes = 256 << 20

// New returns a Server with every route registered.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) error { return nil }
	}
	s := &Server{auth: o.Auth, agents: o.Agents, observe: o.Observe, keys: o.Keys, admin: o.Admin, ready: o.Ready, log: o.Logger, mux: http.NewServeMux()}
	s.log = slog.New(logctx.NewHandler(o.Logger.Handler()))
	s.audit, s.metrics, s.obs = o.Audit, o.Metrics, o.Observer
	s.chat, s.agentTransport = o.Chat, newAgentTransport()
	s.streams = &streamSlots{max: o.MaxStreamsPerUser}
	if s.streams.max <= 0 {
		s.streams.max = DefaultMaxStreamsPerUser
	}
	s.bodyTimeout = o.BodyTimeout
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = DefaultBodyTimeout
	}
	if s.obs == nil {
		s.obs = noObserver{}
	}
	s.cors = newCORS(o.CORSOrigins)
	s.ui = o.UI
	s.snapshots = o.Snapshots
	s.llm, s.llmGateway = o.LLM, o.LLMGateway
	s.workspaces, s.uploadBytes, s.uploadTimeout = o.Workspaces, o.MaxUploadBytes, o.UploadTimeout
	if s.uploadBytes <= 0 {
		s.uploadBytes = DefaultMaxUploadBytes
	}
	if s.uploadTimeout <= 0 {
		s.uploadTimeout = DefaultUploadTimeout
	}
	s.closing, s.closeStreams = context.WithCancel(context.Background())
	if o.MCP != nil {
		s.mcpServer = o.MCP(s)
	}
	if o.OpenSandbox != nil {
		s.openSandbox = o.OpenSandbox(s)
	}
	s.routes()
	return s
}

// ServeHTTP tags the request with an id, bounds its body and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-ID")
	if !validRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set("X-Request-ID", id)
	r.Header.Set("X-Request-ID", id)
	if s.cors.handle(w, r) {
		return // a preflight, answered
	}
	s.bound(w, r)
	s.serve(w, r, id)
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// authedFunc is a handler for a signed-in user.
type authedFunc func(w http.ResponseWriter, r *http.Request, caller *warder.User) error

// public adapts a handlerFunc, writing any error it returns.
func (s *Server) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authed requires a valid bearer token and passes its user on, with a
// request whose context ends if the token stops being valid meanwhile
// (see watchCredential).
func (s *Server) authed(h authedFunc) http.Handler {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		token := bearer(r)
		u, err := s.auth.Authenticate(r.Context(), token)
		if err != nil {
			return err
		}
		noteUser(w, u)
		// A read-only key may read, and may log out: revoking itself takes
		// nothing from anyone. It may speak MCP, whose tools call this API
		// again with the same key (see mcp).
		if u.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead && !(r.Method == http.MethodPost && (r.URL.Path == "/api/auth/logout" || r.URL.Path == "/api/mcp")) {
			return warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot %s %s", echoed(r.Method), echoed(r.URL.Path))
		}
		ctx, stop := s.watchCredential(r.Context(), token, u)
		defer stop()
		r = r.WithContext(ctx)
		err = h(w, r, u)
		if err != nil && credentialEnded(r) {
			return errCredentialEnded // not the context's cancellation
		}
		return err
	})
}
