package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/llmtest"
)

// realKey is the model provider's key the operator configures: it must
// never reach an agent, a user, or the log.
const realKey = "sk-real-provider-key-7f3a9c1e5b"

// llmServer is an apiServer with the LLM gateway in front of a stand-in
// provider on loopback; change adjusts the configuration further.
func llmServer(t *testing.T, change func(*app.Config)) (*apiServer, *llmtest.Upstream) {
	t.Helper()
	up := llmtest.New(t, realKey)
	s := newAPIServer(t, func(c *app.Config) {
		c.LLMUpstreams = []app.LLMUpstream{{Name: "stand-in", URL: up.BaseURL(), Key: realKey}}
		c.LLMGatewayURL = "http://warder.test/llm" // where agents would reach it; the test calls s.URL
		c.LLMSummaryEvery = 100 * time.Millisecond
		if change != nil {
			change(c)
		}
	})
	return s, up
}

// gatewayToken starts the agent (in the fake runtime) and reads the
// gateway variables its container was given.
func gatewayToken(t *testing.T, s *apiServer, c *apitest.Client, id string) (base, token string) {
	t.Helper()
	var a apitest.Agent
	c.MustDo("POST", "/api/agents/"+id+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+id, nil, 200, &a)
	env := s.Runtime.SpecOf(a.ContainerID).Env
	if strings.Contains(strings.Join(mapValues(env), " "), realKey) {
		t.Fatalf("the provider's key is in the agent's env")
	}
	return env["OPENAI_BASE_URL"], env["OPENAI_API_KEY"]
}

func mapValues(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// TestLLMGateway drives the gateway through the real server: an agent's
// token works and is metered as the provider counted, the usage routes
// show it to its owner and admins only, a spent budget (non-streamed, and
// a stream that crosses it) is a 429 before the provider is asked, the
// refusals are counted and audited in aggregate, and a deleted agent's
// or a disabled owner's token is refused. The provider's key is nowhere
// a user or an agent can read it.
func TestLLMGateway(t *testing.T) {
	t.Parallel()
	s, up := llmServer(t, func(c *app.Config) {
		forty := int64(40)
		c.Quota.AgentLLMTokensPerDay = &forty // 15 tokens a request: the third crosses it
	})
	root := s.register(t, "root")
	alice := s.register(t, "alice")
	bob := s.register(t, "bob")
	a := alice.CreateAgent("writer")
	base, token := gatewayToken(t, s, alice, a.ID)
	if base != "http://warder.test/llm/v1" || !strings.HasPrefix(token, "wllm."+a.ID+".") {
		t.Fatalf("the agent's gateway env: OPENAI_BASE_URL=%q OPENAI_API_KEY=%q", base, token)
	}
	gw := s.URL + "/llm/v1"

	// Through the gateway, with the provider's key added upstream.
	status, body, hdr := llmtest.Post(t, gw+"/chat/completions", token, llmtest.Chat("gpt-test", false))
	if status != 200 || !strings.Contains(body, "You said: hi") || strings.Contains(body+strings.Join(mapValues(flat(hdr)), " "), realKey) {
		t.Fatalf("chat through the gateway: %d %s", status, body)
	}
	if auths := up.Auths(); len(auths) != 1 || auths[0] != "Bearer "+realKey {
		t.Fatalf("the provider got %q", auths)
	}
	var u warder.AgentLLMUsage
	alice.MustDo("GET", "/api/agents/"+a.ID+"/usage", nil, 200, &u)
	want := warder.LLMTokens{Requests: 1, PromptTokens: llmtest.PromptTokens, CompletionTokens: llmtest.CompletionTokens, TotalTokens: llmtest.Tokens}
	if !u.Gateway || u.Today != want || u.ThisMonth != want || len(u.Models) != 1 || u.Models[0].Model != "gpt-test-0613" ||
		u.Budget == nil || u.Budget.TokensPerDay != 40 || u.UserToday == nil || *u.UserToday != want {
		t.Errorf("the agent's usage after one chat: %+v", u)
	}

	// A stream that crosses the budget (15+15 = 30 < 40, then 45) runs to
	// its end; the next request of either kind is refused before the
	// provider is asked.
	if status, body, _ := llmtest.Post(t, gw+"/completions", token, `{"model":"gpt-test","prompt":"hi"}`); status != 200 {
		t.Fatalf("completion: %d %s", status, body)
	}
	status, body, _ = llmtest.Post(t, gw+"/chat/completions", token, llmtest.Chat("gpt-test", true))
	if status != 200 || !strings.HasSuffix(body, "data: [DONE]\n\n") || strings.Contains(body, `"usage":{`) {
		t.Fatalf("the stream that crosses the budget: %d %q", status, body)
	}
	calls := up.Calls.Load()
	for _, stream := range []bool{false, true} {
		status, body, hdr := llmtest.Post(t, gw+"/chat/completions", token, llmtest.Chat("gpt-test", stream))
		var e struct {
			Detail string `json:"detail"`
			Error  struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if status != http.StatusTooManyRequests || !strings.Contains(e.Detail, "this agent's daily token budget is spent (45 of 40 tokens)") ||
			e.Error.Type != "insufficient_quota" || hdr.Get("Retry-After") == "" {
			t.Errorf("over budget (stream %v): %d %s", stream, status, body)
		}
	}
	if n := up.Calls.Load(); n != calls {
		t.Errorf("refused requests reached the provider (%d calls, %d before)", n, calls)
	}
	alice.MustDo("GET", "/api/agents/"+a.ID+"/usage", nil, 200, &u)
	if u.Today.TotalTokens != up.Metered.Load() || u.Today.Requests != 3 {
		t.Errorf("metered %d tokens in %d requests; the provider counted %d", u.Today.TotalTokens, u.Today.Requests, up.Metered.Load())
	}

	// Another of alice's agents has its own agent budget; an admin's
	// budget for alice (all her agents) stops it too.
	b := alice.CreateAgent("reader")
	_, tokenB := gatewayToken(t, s, alice, b.ID)
	if status, body, _ := llmtest.Post(t, gw+"/chat/completions", tokenB, llmtest.Chat("gpt-test", false)); status != 200 {
		t.Fatalf("alice's other agent: %d %s", status, body)
	}
	alice.MustDo("PUT", "/api/admin/users/"+alice.UserID+"/limits", map[string]any{"llm_tokens_per_month": 50}, 403, nil)
	var lim warder.Usage
	root.MustDo("PUT", "/api/admin/users/"+alice.UserID+"/limits", map[string]any{"llm_tokens_per_month": 50}, 200, &lim)
	if lim.Limits.LLMTokensPerMonth == nil || *lim.Limits.LLMTokensPerMonth != 50 || lim.Limits.AgentLLMTokensPerDay == nil || *lim.Limits.AgentLLMTokensPerDay != 40 {
		t.Errorf("alice's limits: %+v", lim.Limits)
	}
	if status, body, _ := llmtest.Post(t, gw+"/chat/completions", tokenB, llmtest.Chat("gpt-test", false)); status != 429 || !strings.Contains(body, "this user's monthly token budget is spent (60 of 50 tokens)") {
		t.Errorf("over alice's budget: %d %s", status, body)
	}
	root.MustDo("PUT", "/api/admin/users/"+alice.UserID+"/limits", map[string]any{}, 200, nil)

	// Usage is its owner's and the admins'.
	bob.MustDo("GET", "/api/agents/"+a.ID+"/usage", nil, 404, nil)
	var mine, all warder.LLMUsageReport
	alice.MustDo("GET", "/api/usage", nil, 200, &mine)
	if len(mine.Users) != 1 || mine.Users[0].Username != "alice" || mine.Users[0].ThisMonth.TotalTokens != 60 || len(mine.Users[0].Agents) != 2 ||
		mine.Users[0].Agents[0].AgentName != "writer" || mine.Users[0].Agents[0].ThisMonth.TotalTokens != 45 || mine.Users[0].AgentBudget.TokensPerDay != 40 {
		t.Errorf("alice's usage: %+v", mine)
	}
	var bobs warder.LLMUsageReport
	bob.MustDo("GET", "/api/usage", nil, 200, &bobs)
	if len(bobs.Users) != 1 || bobs.Users[0].Username != "bob" || bobs.Users[0].ThisMonth.Requests != 0 {
		t.Errorf("bob's usage: %+v", bobs)
	}
	root.MustDo("GET", "/api/usage", nil, 200, &all)
	if len(all.Users) != 2 || all.Users[0].Username != "root" || all.Users[1].Username != "alice" || all.Users[1].ThisMonth.TotalTokens != 60 {
		t.Errorf("the admin's view: %+v", all)
	}

	// Refusals: in /metrics, and audited in aggregate (one entry for the
	// agent's daily budget with its count, one for alice's monthly).
	scrape := apitest.Scrape(t, s.URL)
	if apitest.Metric(scrape, `warder_llm_refused_total{reason="over_budget"}`) != 3 ||
		apitest.Metric(scrape, `warder_llm_tokens_total{kind="prompt"}`) != 4*llmtest.PromptTokens || apitest.Metric(scrape, "warder_llm_requests_total") != 4 {
		t.Errorf("metrics:\n%s", grepLines(scrape, "warder_llm_"))
	}
	waitAudit(t, root, "llm budget refused (agent daily)", "2 refused since")
	waitAudit(t, root, "llm budget refused (user monthly)", "1 refused since")

	// Revocation: a deleted agent's token, a disabled owner's, a forged one.
	alice.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	root.MustDo("POST", "/api/admin/users/"+alice.UserID+"/disable", nil, 200, nil)
	forged := tokenB[:len(tokenB)-4] + "AAAA"
	for name, tok := range map[string]string{"deleted agent": token, "disabled owner": tokenB, "forged": forged, "the provider's key": realKey, "none": ""} {
		status, body, _ := llmtest.Post(t, gw+"/chat/completions", tok, llmtest.Chat("gpt-test", false))
		if status != 401 || apitest.DetailOf(t, []byte(body)) == "" {
			t.Errorf("%s: %d %s, want 401 with a detail", name, status, body)
		}
	}
	if n := up.Calls.Load(); n != 4 {
		t.Errorf("the provider was called %d times, want 4", n)
	}

	// The provider's key is in no answer a user can get, nor in the log.
	for _, path := range []string{"/api/system/status", "/api/system/limits", "/api/usage", "/api/audit?limit=1000", "/metrics", "/api/openapi.json"} {
		if _, raw := root.Do("GET", path, nil); strings.Contains(string(raw), realKey) {
			t.Errorf("GET %s shows the provider's key", path)
		}
	}
	if strings.Contains(s.Logs.String(), realKey) || strings.Contains(s.Logs.String(), token) {
		t.Error("the log holds the provider's key or a gateway token")
	}
}

// TestLLMGatewayOff: without an upstream, agents get no OPENAI_*
// variables, /llm/ is a 404 and the usage routes say there is no
// gateway. An agent whose own env names OPENAI_BASE_URL keeps it, with
// a gateway too.
func TestLLMGatewayOff(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	alice := s.register(t, "alice")
	a := alice.CreateAgent("plain")
	if base, token := gatewayToken(t, s, alice, a.ID); base != "" || token != "" {
		t.Errorf("without a gateway the agent got %q %q", base, token)
	}
	if status, body, _ := llmtest.Post(t, s.URL+"/llm/v1/chat/completions", "x", llmtest.Chat("m", false)); status != 404 || apitest.DetailOf(t, []byte(body)) == "" {
		t.Errorf("/llm/ without a gateway: %d %s", status, body)
	}
	var u warder.AgentLLMUsage
	alice.MustDo("GET", "/api/agents/"+a.ID+"/usage", nil, 200, &u)
	if u.Gateway || u.Today.Requests != 0 {
		t.Errorf("usage without a gateway: %+v", u)
	}

	g, _ := llmServer(t, nil)
	bob := g.register(t, "bob")
	own := bob.CreateWith("own", map[string]any{"env_vars": map[string]string{"OPENAI_BASE_URL": "https://api.example.com/v1"}})
	if base, token := gatewayToken(t, g, bob, own.ID); base != "https://api.example.com/v1" || token != "" {
		t.Errorf("an agent with its own OPENAI_BASE_URL got %q %q", base, token)
	}
}

func flat(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = strings.Join(v, ",")
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitAudit waits for an audit entry whose action is action and whose
// result holds result.
func waitAudit(t *testing.T, admin *apitest.Client, action, result string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var resp warder.AuditResponse
		admin.MustDo("GET", "/api/audit?limit=1000", nil, 200, &resp)
		for _, e := range resp.Entries {
			if e.Action == action && strings.Contains(e.Result, result) && e.Status == 429 && e.AgentID != "" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("no audit entry %q with %q in %+v", action, result, resp.Entries)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
