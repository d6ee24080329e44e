package api

import (
	"context"
	"net/http"

	"github.com/warder/warder"
)

// LLMService answers the LLM gateway's usage routes (GET
// /api/agents/{id}/usage, GET /api/usage); nil answers them 501.
type LLMService interface {
	// AgentUsage is the agent's tokens today and this month, by model,
	// with its budget and its owner's; another user's agent is
	// ErrNotFound.
	AgentUsage(ctx context.Context, caller *warder.User, id string) (*warder.AgentLLMUsage, error)
	// Usage is the caller's usage this month (an admin's: every user's).
	Usage(ctx context.Context, caller *warder.User) (*warder.LLMUsageReport, error)
}

// llmRoute is where the LLM gateway is mounted (agents' OPENAI_BASE_URL
// is <Warder>/llm/v1): OpenAI's API, not Warder's, so it is outside the
// route table and its OpenAPI document, and answers in both shapes
// (docs/egress.md).
const llmRoute = "/llm/"

func (s *Server) agentUsage(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if s.llm == nil {
		return warder.Errorf(warder.ErrNotSupported, "this server has no LLM gateway")
	}
	out, err := s.llm.AgentUsage(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if s.llm == nil {
		return warder.Errorf(warder.ErrNotSupported, "this server has no LLM gateway")
	}
	out, err := s.llm.Usage(r.Context(), caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
