package cli_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/llmtest"
)

// TestCLIUsage: warder usage and warder agents usage show what an agent
// spent through the LLM gateway (a stand-in provider on loopback), with
// the budgets an admin sets with users limits; --json is the API's
// answer.
func TestCLIUsage(t *testing.T) {
	up := llmtest.New(t, "sk-cli-test-key")
	cfg := apitest.Config(t)
	cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", 20900, 20999
	cfg.LLMUpstreams = []app.LLMUpstream{{URL: up.BaseURL(), Key: "sk-cli-test-key"}}
	cfg.LLMGatewayURL = "http://warder.test/llm"
	var fake *runtimetest.Fake
	ts := apitest.Start(t, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		fake = runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)
		return fakeBackend{fake}, nil
	}, nil)
	root := apitest.Register(t, ts.URL, "root")
	alice := apitest.Register(t, ts.URL, "alice")
	a := alice.CreateAgent("helper")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	token := fake.SpecOf(a.ContainerID).Env["OPENAI_API_KEY"]
	for range 2 {
		if status, body, _ := llmtest.Post(t, ts.URL+"/llm/v1/chat/completions", token, llmtest.Chat("gpt-test", false)); status != 200 {
			t.Fatalf("chat: %d %s", status, body)
		}
	}

	if code, out, errs := run(ts.URL, root.Token, "users", "limits", "alice", "--llm-tokens-month", "1000", "--agent-llm-tokens-day", "100"); code != 0 ||
		!strings.Contains(out, "llm tokens a month             1000") || !strings.Contains(out, "llm tokens a day per agent     100") {
		t.Fatalf("users limits: exit %d %q %q", code, out, errs)
	}
	code, out, errs := run(ts.URL, alice.Token, "usage")
	if code != 0 || errs != "" || !strings.Contains(out, "BUDGET (DAY/MONTH)") ||
		!strings.Contains(out, "alice   (all)    30      30           2          -/1000") || !strings.Contains(out, "alice   helper   30      30           2          100/-") {
		t.Fatalf("usage: exit %d %q\n%s", code, errs, out)
	}
	code, out, errs = run(ts.URL, alice.Token, "agents", "usage", "helper")
	if code != 0 || errs != "" || !strings.Contains(out, "gpt-test-0613") || !strings.Contains(out, "(this agent)") || !strings.Contains(out, "100/-") {
		t.Fatalf("agents usage: exit %d %q\n%s", code, errs, out)
	}
	code, out, _ = run(ts.URL, root.Token, "usage", "--json")
	var r warder.LLMUsageReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !r.Gateway || len(r.Users) != 2 || r.Users[1].ThisMonth.TotalTokens != 2*llmtest.Tokens {
		t.Fatalf("usage --json as the admin: exit %d\n%s", code, out)
	}
	if code, _, errs := run(ts.URL, alice.Token, "agents", "usage"); code != 2 || !strings.Contains(errs, "one agent") {
		t.Errorf("agents usage without an agent: exit %d %q", code, errs)
	}
}
