package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// CreateAgent creates an agent (POST /api/agents). With
// ContainerConfig.AutoStart it is started at once.
func (c *Client) CreateAgent(ctx context.Context, req wire.AgentCreate) (*wire.Agent, error) {
	var a wire.Agent
	if err := c.call(ctx, request{method: http.MethodPost, path: "/api/agents", body: req}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Agents lists the caller's agents (an admin's: everyone's).
func (c *Client) Agents(ctx context.Context) ([]*wire.Agent, error) {
	var list []*wire.Agent
	err := c.get(ctx, "/api/agents", nil, &list)
	return list, err
}

// ListAgents is GET /api/agents with filters and, with q.Limit, one page
// of at most that many: page.Next is the cursor to pass as q.Cursor for
// the next page ("" after the last). Without a limit every agent comes
// at once, as with Agents.
func (c *Client) ListAgents(ctx context.Context, q AgentQuery) (*AgentPage, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/api/agents", query: agentQuery(q)})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	page := &AgentPage{Next: resp.Header.Get("X-Next-Cursor")}
	if err := decode(resp, http.MethodGet, "/api/agents", &page.Agents); err != nil {
		return nil, err
	}
	return page, nil
}

// agentQuery is q as GET /api/agents's query; zero fields are left out.
func agentQuery(q AgentQuery) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("user_id", q.UserID)
	set("name", q.Name)
	set("name_prefix", q.NamePrefix)
	set("cursor", q.Cursor)
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	statuses := make([]string, len(q.Statuses))
	for i, s := range q.Statuses {
		statuses[i] = string(s)
	}
	set("status", strings.Join(statuses, ","))
	return v
}

// Agent returns one agent; another user's is a 404, as a missing one.
func (c *Client) Agent(ctx context.Context, id string) (*wire.Agent, error) {
	var a wire.Agent
	err := c.get(ctx, "/api/agents/"+seg(id), nil, &a)
	return orNil(&a, err)
}

// ReplaceAgent is PUT /api/agents/{id}: the fields req sets replace the
// agent's, and those it leaves out are kept.
func (c *Client) ReplaceAgent(ctx context.Context, id string, req wire.AgentReplace) (*wire.Agent, error) {
	var a wire.Agent
	err := c.call(ctx, request{method: http.MethodPut, path: "/api/agents/" + seg(id), body: req}, &a)
	return orNil(&a, err)
}

// UpdateAgent is PATCH /api/agents/{id}: only the fields req sets change.
func (c *Client) UpdateAgent(ctx context.Context, id string, req wire.AgentUpdate) (*wire.Agent, error) {
	var a wire.Agent
	err := c.call(ctx, request{method: http.MethodPatch, path: "/api/agents/" + seg(id), body: req}, &a)
	return orNil(&a, err)
}

// DeleteAgent removes the agent's container, frees its port and deletes it.
func (c *Client) DeleteAgent(ctx context.Context, id string) error {
	_, err := c.message(ctx, http.MethodDelete, "/api/agents/"+seg(id), nil)
	return err
}

// StartAgent creates the agent's workload if need be, starts it, and
// returns the agent as it is then (running, or failed with its reason).
// The API answers a start with a message, as the seed's clients expect;
// the agent is read after it.
func (c *Client) StartAgent(ctx context.Context, id string) (*wire.Agent, error) {
	return c.lifecycle(ctx, id, "start")
}

// StopAgent stops the agent's workload, keeping it and its port, and
// returns the agent as it is then.
func (c *Client) StopAgent(ctx context.Context, id string) (*wire.Agent, error) {
	return c.lifecycle(ctx, id, "stop")
}

// RestartAgent stops the agent's workload, then starts it, and returns
// the agent as it is then.
func (c *Client) RestartAgent(ctx context.Context, id string) (*wire.Agent, error) {
	return c.lifecycle(ctx, id, "restart")
}

// lifecycle is POST /api/agents/{id}/{action}, then the agent.
func (c *Client) lifecycle(ctx context.Context, id, action string) (*wire.Agent, error) {
	if _, err := c.message(ctx, http.MethodPost, "/api/agents/"+seg(id)+"/"+action, nil); err != nil {
		return nil, err
	}
	return c.Agent(ctx, id)
}

// AgentByName returns the caller's agent of that name (names are unique
// per user). An admin, whose listing holds everyone's agents, gets their
// own of that name if they have one; else the one agent of that name,
// or an error naming how many users have one. None is a 404 *Error.
func (c *Client) AgentByName(ctx context.Context, name string) (*wire.Agent, error) {
	page, err := c.ListAgents(ctx, AgentQuery{Name: name})
	if err != nil {
		return nil, err
	}
	switch len(page.Agents) {
	case 0:
		return nil, &Error{Status: http.StatusNotFound, Detail: fmt.Sprintf("no agent is named %q", name)}
	case 1:
		return page.Agents[0], nil
	}
	me, err := c.Me(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range page.Agents {
		if a.UserID == me.ID {
			return a, nil
		}
	}
	return nil, fmt.Errorf("warder client: %d agents of different users are named %q: use an id", len(page.Agents), name)
}

// logQuery is opts as GET /logs's query: lines is always sent, a
// number or all, so the server's default (100) never applies.
func logQuery(opts LogOptions) url.Values {
	q := url.Values{"lines": {"all"}}
	switch {
	case opts.Follow && opts.OnlyNew:
		q.Set("lines", "0")
	case opts.Tail > 0:
		q.Set("lines", strconv.Itoa(opts.Tail))
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	return q
}

// Logs returns the agent's output, stdout and stderr together, as one
// text of lines: the latest opts.Tail lines, or every line (at most 4
// MiB: past that the server answers 413; StreamLogs has no such bound).
// Follow and OnlyNew are ignored: StreamLogs follows.
func (c *Client) Logs(ctx context.Context, id string, opts LogOptions) (string, error) {
	opts.Follow, opts.OnlyNew = false, false
	var l wire.LogsResponse
	err := c.get(ctx, "/api/agents/"+seg(id)+"/logs", logQuery(opts), &l)
	return l.Logs, err
}

// AgentEvents lists the agent's latest status changes, oldest first;
// limit 0 is the server's default (100).
func (c *Client) AgentEvents(ctx context.Context, id string, limit int) ([]*wire.AgentEvent, error) {
	var r wire.AgentEventsResponse
	err := c.get(ctx, "/api/agents/"+seg(id)+"/events", limitQuery(limit), &r)
	return r.Events, err
}

// Stats returns the agent's newest resource sample; a stopped agent is a 409.
func (c *Client) Stats(ctx context.Context, id string) (*wire.StatsView, error) {
	var r wire.StatsResponse
	err := c.get(ctx, "/api/agents/"+seg(id)+"/stats", nil, &r)
	return orNil(&r.Stats, err)
}

// StatsHistory returns the newest sample and the samples of the last d,
// oldest first.
func (c *Client) StatsHistory(ctx context.Context, id string, d time.Duration) (*wire.StatsHistoryResponse, error) {
	var r wire.StatsHistoryResponse
	err := c.get(ctx, "/api/agents/"+seg(id)+"/stats", url.Values{"history": {d.String()}}, &r)
	return orNil(&r, err)
}

func limitQuery(limit int) url.Values {
	if limit <= 0 {
		return nil
	}
	return url.Values{"limit": {strconv.Itoa(limit)}}
}
