package api

import (
	"net/http"

	"github.com/warder/warder"
)

// routes registers every route, one per line, so this file is the map of
// the API. The seed writes POST /api/agents/ with a trailing slash; both
// spellings work.
func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /healthz", s.public(s.healthz))
	m.Handle("GET /readyz", s.public(s.readyz))
	m.Handle("GET /metrics", s.public(s.metricsPage))

	m.Handle("POST /api/auth/register", s.public(s.register))
	m.Handle("POST /api/auth/login", s.public(s.login))
	m.Handle("POST /api/auth/token", s.public(s.tokenForm))
	m.Handle("POST /api/auth/logout", s.authed(s.logout))
	m.Handle("GET /api/auth/me", s.authed(s.me))
	m.Handle("POST /api/auth/keys", s.authed(s.createKey))
	m.Handle("GET /api/auth/keys", s.authed(s.listKeys))
	m.Handle("DELETE /api/auth/keys/{id}", s.authed(s.deleteKey))

	m.Handle("GET /api/system/limits", s.authed(s.systemLimits))
	m.Handle("GET /api/system/status", s.authed(s.systemStatus))
	m.Handle("GET /api/admin/users", s.authed(s.listUsers))
	m.Handle("POST /api/admin/users", s.authed(s.createUser))
	m.Handle("POST /api/admin/users/{id}/disable", s.authed(s.disableUser))
	m.Handle("POST /api/admin/users/{id}/enable", s.authed(s.enableUser))
	m.Handle("GET /api/admin/users/{id}/limits", s.authed(s.userLimits))
	m.Handle("PUT /api/admin/users/{id}/limits", s.authed(s.setUserLimits))

	m.Handle("POST /api/agents", s.authed(s.createAgent))
	m.Handle("POST /api/agents/{$}", s.authed(s.createAgent))
	m.Handle("GET /api/agents", s.authed(s.listAgents))
	m.Handle("GET /api/agents/{$}", s.authed(s.listAgents))
	m.Handle("GET /api/agents/{id}", s.authed(s.getAgent))
	m.Handle("PUT /api/agents/{id}", s.authed(s.replaceAgent))
	m.Handle("PATCH /api/agents/{id}", s.authed(s.updateAgent))
	m.Handle("DELETE /api/agents/{id}", s.authed(s.deleteAgent))
	m.Handle("POST /api/agents/{id}/start", s.authed(s.startAgent))
	m.Handle("POST /api/agents/{id}/stop", s.authed(s.stopAgent))
	m.Handle("POST /api/agents/{id}/restart", s.authed(s.restartAgent))
	m.Handle("GET /api/agents/{id}/logs", s.authed(s.agentLogs))
	m.Handle("GET /api/agents/{id}/stats", s.authed(s.agentStats))
	m.Handle("GET /api/agents/{id}/events", s.authed(s.agentEvents))
	m.Handle("POST /api/agents/{id}/chat", s.authed(s.chatAgent))
	m.Handle("GET /api/agents/{id}/conversations", s.authed(s.listConversations))
	m.Handle("GET /api/agents/{id}/conversations/{cid}", s.authed(s.getConversation))
	m.Handle(proxyRoute, s.authed(s.proxyAgent))
	m.Handle("GET /api/events", s.authed(s.events))
	m.Handle("GET /api/audit", s.authed(s.auditLog))

	m.Handle("/", s.public(s.notFound))
}

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
