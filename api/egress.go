package api

import (
	"context"
	"net/http"

	"github.com/warder/warder"
)

// EgressService answers GET /api/agents/{id}/egress. The agents' service
// serves it when it has the method; otherwise the route answers 501.
type EgressService interface {
	// AgentEgress is the agent's egress policy in force and its recent
	// refusals; another user's agent is ErrNotFound.
	AgentEgress(ctx context.Context, caller *warder.User, id string) (*warder.AgentEgress, error)
}

func (s *Server) agentEgress(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	eg, ok := s.agents.(EgressService)
	if !ok {
		return warder.Errorf(warder.ErrNotSupported, "this server has no egress policies")
	}
	out, err := eg.AgentEgress(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
