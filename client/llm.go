package client

import (
	"context"

	"github.com/warder/warder/wire"
)

// AgentUsage is the agent's LLM gateway usage today and this month (UTC),
// by model, with its budget and its owner's.
func (c *Client) AgentUsage(ctx context.Context, id string) (*wire.AgentLLMUsage, error) {
	var u wire.AgentLLMUsage
	err := c.get(ctx, "/api/agents/"+seg(id)+"/usage", nil, &u)
	return result(&u, err)
}

// Usage is the caller's LLM gateway usage this month, by agent and model
// (an admin's: every user's who used it).
func (c *Client) Usage(ctx context.Context) (*wire.LLMUsageReport, error) {
	var r wire.LLMUsageReport
	err := c.get(ctx, "/api/usage", nil, &r)
	return result(&r, err)
}
