package apitest

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/warder/warder"
)

// Agent is an agent as the API returns it, with the fields the API sends
// as null while unset kept as pointers, so a test sees a null as nil.
type Agent struct {
	warder.Agent
	HostPort        *int
	StatusChangedAt *time.Time
	LastUsedAt      *time.Time
}

// UnmarshalJSON reads the agent, and which of its nullable fields were
// null.
func (a *Agent) UnmarshalJSON(b []byte) error {
	var nullable struct {
		HostPort        *int       `json:"host_port"`
		StatusChangedAt *time.Time `json:"status_changed_at"`
		LastUsedAt      *time.Time `json:"last_used_at"`
	}
	if err := json.Unmarshal(b, &nullable); err != nil {
		return err
	}
	a.HostPort, a.StatusChangedAt, a.LastUsedAt = nullable.HostPort, nullable.StatusChangedAt, nullable.LastUsedAt
	return json.Unmarshal(b, &a.Agent)
}

// CreateAgent creates an agent with small limits, returning it.
func (c *Client) CreateAgent(name string) Agent {
	c.T.Helper()
	var a Agent
	c.MustDo("POST", "/api/agents", map[string]any{
		"name":             name,
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25},
	}, 201, &a)
	return a
}

// CreateWith creates an agent with the given container_config additions.
func (c *Client) CreateWith(name string, cc map[string]any) Agent {
	c.T.Helper()
	full := map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}
	for k, v := range cc {
		full[k] = v
	}
	var a Agent
	c.MustDo("POST", "/api/agents", map[string]any{"name": name, "container_config": full}, 201, &a)
	return a
}

// WaitStatus polls the agent until check passes or within has passed,
// returning the last agent seen.
func (c *Client) WaitStatus(id string, within time.Duration, check func(a Agent) bool) Agent {
	c.T.Helper()
	deadline := time.Now().Add(within)
	for {
		var a Agent
		c.MustDo("GET", "/api/agents/"+id, nil, 200, &a)
		if check(a) {
			return a
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("after %s agent %s is %s (%q, exit %v, restarts %d)", within, a.Name, a.Status, a.StatusReason, a.ExitCode, a.RestartCount)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Is is a WaitStatus check: the agent's status is s.
func Is(s warder.Status) func(Agent) bool { return func(a Agent) bool { return a.Status == s } }

// WaitLogs reads the agent's logs (the last 1000 lines) until they hold
// want, failing the test after within: the engine writes a container's
// output to its log asynchronously, so a line the agent wrote before it
// answered may not be there yet.
func (c *Client) WaitLogs(agentID, want string, within time.Duration) string {
	c.T.Helper()
	var logs struct{ Logs string }
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		c.MustDo("GET", "/api/agents/"+agentID+"/logs?lines=1000", nil, 200, &logs)
		if strings.Contains(logs.Logs, want) {
			return logs.Logs
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("agent logs lack %q after %s:\n%s", want, within, logs.Logs)
		}
	}
}
