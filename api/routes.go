package api

import (
	"net/http"

	"github.com/warder/warder"
)

// route is one line of the API's map: a ServeMux pattern and its handler.
type route struct {
	pattern string
	handler http.Handler
}

// routeTable lists every route, one per line, so this file is the map of
// the API. The seed writes POST /api/agents/ with a trailing slash; both
// spellings work. The OpenAPI document (openapi.go) describes each.
func (s *Server) routeTable() []route {
	return []route{
		{"GET /healthz", s.public(s.healthz)},
		{"GET /health", s.public(s.healthz)},
		{"GET /readyz", s.public(s.readyz)},
		{"GET /metrics", s.public(s.metricsPage)},
		{"GET /api/openapi.json", s.public(s.openapi)},
		{"GET /openapi.json", s.public(s.openapi)},

		{"POST /api/auth/register", s.public(s.register)},
		{"POST /api/auth/login", s.public(s.login)},
		{"POST /api/auth/token", s.public(s.tokenForm)},
		{"POST /api/auth/refresh", s.public(s.refresh)},
		{"POST /api/auth/logout", s.authed(s.logout)},
		{"GET /api/auth/me", s.authed(s.me)},
		{"GET /api/users/me", s.authed(s.me)},
		{"POST /api/auth/keys", s.authed(s.createKey)},
		{"GET /api/auth/keys", s.authed(s.listKeys)},
		{"DELETE /api/auth/keys/{id}", s.authed(s.deleteKey)},

		{"GET /api/system/limits", s.authed(s.systemLimits)},
		{"GET /api/system/status", s.authed(s.systemStatus)},
		{"GET /api/admin/users", s.authed(s.listUsers)},
		{"POST /api/admin/users", s.authed(s.createUser)},
		{"POST /api/admin/users/{id}/disable", s.authed(s.disableUser)},
		{"POST /api/admin/users/{id}/enable", s.authed(s.enableUser)},
		{"GET /api/admin/users/{id}/limits", s.authed(s.userLimits)},
		{"PUT /api/admin/users/{id}/limits", s.authed(s.setUserLimits)},

		{"POST /api/agents", s.authed(s.createAgent)},
		{"POST /api/agents/{$}", s.authed(s.createAgent)},
		{"GET /api/agents", s.authed(s.listAgents)},
		{"GET /api/agents/{$}", s.authed(s.listAgents)},
		{"GET /api/agents/{id}", s.authed(s.getAgent)},
		{"PUT /api/agents/{id}", s.authed(s.replaceAgent)},
		{"PATCH /api/agents/{id}", s.authed(s.updateAgent)},
		{"DELETE /api/agents/{id}", s.authed(s.deleteAgent)},
		{"POST /api/agents/{id}/start", s.authed(s.startAgent)},
		{"POST /api/agents/{id}/stop", s.authed(s.stopAgent)},
		{"POST /api/agents/{id}/restart", s.authed(s.restartAgent)},
		{"POST /api/agents/{id}/pause", s.authed(s.pauseAgent)},
		{"POST /api/agents/{id}/resume", s.authed(s.resumeAgent)},
		{"GET /api/agents/{id}/logs", s.authed(s.agentLogs)},
		{"GET /api/agents/{id}/stats", s.authed(s.agentStats)},
		{"GET /api/agents/{id}/events", s.authed(s.agentEvents)},
		{"GET /api/agents/{id}/egress", s.authed(s.agentEgress)},
		{"GET /api/agents/{id}/usage", s.authed(s.agentUsage)},
		{"POST /api/agents/{id}/chat", s.authed(s.chatAgent)},
		{"POST /api/agents/{id}/query", s.authed(s.chatAgent)},
		{"GET /api/agents/{id}/conversations", s.authed(s.listConversations)},
		{"GET /api/agents/{id}/conversations/{cid}", s.authed(s.getConversation)},
		{"GET /api/agents/{id}/files/{path...}", s.authed(s.getFile)},
		{uploadRoute, s.authed(s.putFile)},
		{"DELETE /api/agents/{id}/files/{path...}", s.authed(s.deleteFile)},
		{"POST /api/agents/{id}/exec", s.authed(s.execAgent)},
		{"GET /api/agents/{id}/terminal", s.terminalToken(s.authed(s.terminal))},
		{"POST /api/agents/{id}/snapshots", s.authed(s.takeSnapshot)},
		{"GET /api/agents/{id}/snapshots", s.authed(s.listSnapshots)},
		{"DELETE /api/agents/{id}/snapshots/{sid}", s.authed(s.deleteSnapshot)},
		{"POST /api/agents/{id}/snapshots/{sid}/restore", s.authed(s.restoreSnapshot)},
		{"POST /api/agents/{id}/fork", s.authed(s.forkAgent)},
		{"GET /api/snapshots", s.authed(s.allSnapshots)},
		{"GET /api/usage", s.authed(s.usage)},
		{"GET /api/workspaces", s.authed(s.listWorkspaces)},
		{"DELETE /api/workspaces/{name}", s.authed(s.deleteWorkspace)},
		{proxyRoute, s.authed(s.proxyAgent)},
		{"GET /api/events", s.authed(s.events)},
		{"GET /api/audit", s.authed(s.auditLog)},
		{mcpRoute, s.authed(s.mcp)},
	}
}

// routes registers the route table, then the answer for every other path.
func (s *Server) routes() {
	for _, r := range s.routeTable() {
		s.mux.Handle(r.pattern, r.handler)
		s.patterns = append(s.patterns, r.pattern)
	}
	// The dashboard is static files, not part of the API (nor of its
	// OpenAPI document): it calls the routes above like any client.
	if s.ui != nil {
		s.mux.Handle("GET /{$}", s.ui)
		s.mux.Handle("GET /ui/", s.ui)
	}
	// The LLM gateway is OpenAI's API for agents, authenticated by their
	// gateway tokens: not part of this API's route table either.
	if s.llmGateway != nil {
		s.mux.Handle(llmRoute, http.StripPrefix("/llm", s.llmGateway))
	}
	// OpenSandbox's API is a second API with its own specification,
	// shapes and authentication (docs/compatibility.md), served beside
	// this one; every call it makes comes back through the routes above.
	if s.openSandbox != nil {
		s.mux.Handle(OpenSandboxPrefix+"/", s.openSandbox)
	}
	s.mux.Handle("/", s.public(s.notFound))
}

// OpenSandboxPrefix is where Options.OpenSandbox is served.
const OpenSandboxPrefix = "/api/opensandbox"

// Routes lists the pattern of every route the server answers, as
// registered on its ServeMux ("GET /api/agents/{id}"); a pattern without
// a method answers every method.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// notFound answers unknown paths in the API's JSON shape, and known paths
// asked with the wrong method with 405.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); m != r.Method && pattern != "/" && pattern != "" {
			return writeJSON(w, http.StatusMethodNotAllowed, warder.ErrorResponse{Detail: "method " + echoed(r.Method) + " is not allowed on " + echoed(r.URL.Path)})
		}
	}
	return writeJSON(w, http.StatusNotFound, warder.ErrorResponse{Detail: "no such endpoint: " + echoed(r.Method) + " " + echoed(r.URL.Path)})
}
