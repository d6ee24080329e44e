package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/llmtest"
)

// llmRealKey is the provider's key the operator configures; no agent may
// find it anywhere.
const llmRealKey = "sk-llmt-real-provider-key-93b1d7"

// TestLLMGatewayInAgents: real agents of the default image on Docker
// talk to a stand-in provider on loopback through Warder's LLM gateway,
// out of the box: one on the egress network ("all"), one with no egress
// ("none") and one with an egress list (whose proxy must not be asked
// for the gateway). Each chat is metered as the provider counted it; a
// spent budget turns the next chat into a clear failure; the provider's
// key is nowhere in the agent (its env through the API, docker inspect,
// its logs) while OPENAI_API_KEY is its own gateway token, which is
// refused once the agent is deleted.
func TestLLMGatewayInAgents(t *testing.T) {
	t.Parallel()
	up := llmtest.New(t, llmRealKey)
	ts := newTestServer(t, func(c *app.Config) {
		c.Network = e2etest.Network(t, "llmt-net-")
		c.LLMUpstreams = []app.LLMUpstream{{Name: "stand-in", URL: up.BaseURL(), Key: llmRealKey}}
		budget := int64(20) // 15 tokens a chat: the second crosses it
		c.Quota.AgentLLMTokensPerDay = &budget
	})
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	cli := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	for _, tc := range []struct {
		name   string
		egress any
	}{
		{"llmt-all", "all"},
		{"llmt-none", "none"},
		{"llmt-listed", []string{"api.example.com:443"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &apitest.Client{T: t, Base: alice.Base, Token: alice.Token, UserID: alice.UserID}
			var a apitest.Agent
			c.MustDo("POST", "/api/agents", map[string]any{
				"name":             tc.name,
				"config":           map[string]any{"model": "gpt-test"},
				"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25, "egress": tc.egress},
			}, 201, &a)
			chat := func(content string) (int, chatReply, []byte) {
				status, raw := c.Do("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": content})
				var r chatReply
				_ = json.Unmarshal(raw, &r)
				return status, r, raw
			}
			status, r, raw := chat("hello")
			if status != http.StatusOK || r.Content != "You said: hello" || r.Model != "gpt-test-0613" {
				t.Fatalf("chat through the gateway: %d %s", status, raw)
			}
			var u warder.AgentLLMUsage
			c.MustDo("GET", "/api/agents/"+a.ID+"/usage", nil, 200, &u)
			if u.Today.TotalTokens != llmtest.Tokens || u.Today.Requests != 1 || len(u.Models) != 1 || u.Models[0].Model != "gpt-test-0613" {
				t.Errorf("usage after one chat: %+v", u)
			}
			if status, _, raw := chat("again"); status != http.StatusOK { // 15 -> 30: crosses 20, and finishes
				t.Fatalf("the chat that crosses the budget: %d %s", status, raw)
			}
			status, _, raw = chat("once more")
			if status != http.StatusBadGateway || !strings.Contains(apitest.DetailOf(t, raw), "429") {
				t.Errorf("a chat over budget: %d %s, want a 502 saying the model API answered 429", status, raw)
			}

			// The key is nowhere the agent, or its user, can look.
			c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
			envOut, _ := runAll(t, c, a.ID, "/warder-agent", "env")
			res, err := cli.ContainerInspect(ctx, a.ContainerID, moby.ContainerInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			inspect, _ := json.Marshal(res)
			var logs warder.LogsResponse
			c.MustDo("GET", "/api/agents/"+a.ID+"/logs?lines=all", nil, 200, &logs)
			for where, text := range map[string]string{"env": envOut, "docker inspect": string(inspect), "logs": logs.Logs, "Warder's log": ts.Logs.String()} {
				if strings.Contains(text, llmRealKey) {
					t.Errorf("the provider's key is in the agent's %s", where)
				}
			}
			token := ""
			for _, kv := range res.Container.Config.Env {
				if v, ok := strings.CutPrefix(kv, "OPENAI_API_KEY="); ok {
					token = v
				}
			}
			if !strings.HasPrefix(token, "wllm."+a.ID+".") || !strings.Contains(envOut, "OPENAI_API_KEY="+token) || !strings.Contains(envOut, "OPENAI_BASE_URL=http://") {
				t.Errorf("the agent's gateway token %q; its env:\n%s", token, envOut)
			}

			// Deleted, its token is refused (here through the API's /llm/v1).
			c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
			if status, body, _ := llmtest.Post(t, ts.URL+"/llm/v1/chat/completions", token, llmtest.Chat("gpt-test", false)); status != 401 {
				t.Errorf("a deleted agent's token: %d %s", status, body)
			}
		})
	}
	if got := up.Metered.Load(); got != 3*2*llmtest.Tokens {
		t.Errorf("the provider metered %d tokens, want %d", got, 3*2*llmtest.Tokens)
	}
}
