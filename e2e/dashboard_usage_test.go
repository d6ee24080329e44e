package e2e

import (
	"strings"
	"testing"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/llmtest"
)

// TestDashboardUsage: the LLM usage card of an agent's page shows what
// a chat through the gateway cost, against the agent's budget, by model.
func TestDashboardUsage(t *testing.T) {
	t.Parallel()
	up := llmtest.New(t, llmRealKey)
	ts := newTestServer(t, func(c *app.Config) {
		c.Network = e2etest.Network(t, "llmt-dash-")
		c.LLMUpstreams = []app.LLMUpstream{{URL: up.BaseURL(), Key: llmRealKey}}
		budget := int64(100)
		c.Quota.AgentLLMTokensPerDay = &budget
	})
	c := ts.register(t, "alice")
	var a struct{ ID string }
	c.MustDo("POST", "/api/agents", map[string]any{"name": "llmt-talker", "config": map[string]any{"model": "gpt-test"},
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}}, 201, &a)
	c.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)

	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")
	b.open("#/agents/"+a.ID, `#usage-models tr[data-model="gpt-test-0613"]`)
	if got := b.text("#usage-today"); !strings.Contains(got, "15 of 100") {
		t.Errorf("the card says %q, want 15 of 100 tokens today", got)
	}
	b.screenshot("usage")
}
