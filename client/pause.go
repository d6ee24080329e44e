package client

import (
	"context"
	"net/http"

	"github.com/warder/warder/wire"
)

// PauseAgent freezes a running agent (its memory, port and workspace
// kept, no CPU used) and returns it, paused. The next request that needs
// it (chat, the proxy, exec, files, stats, followed logs) resumes it.
func (c *Client) PauseAgent(ctx context.Context, id string) (*wire.Agent, error) {
	return c.frozen(ctx, id, "pause")
}

// ResumeAgent thaws a paused agent and returns it, running.
func (c *Client) ResumeAgent(ctx context.Context, id string) (*wire.Agent, error) {
	return c.frozen(ctx, id, "resume")
}

func (c *Client) frozen(ctx context.Context, id, action string) (*wire.Agent, error) {
	var a wire.Agent
	if err := c.call(ctx, request{method: http.MethodPost, path: "/api/agents/" + seg(id) + "/" + action}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
