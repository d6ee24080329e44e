package metrics

import (
	"strings"
	"testing"
)

// TestEgressMetrics: the egress proxy's counts are scraped as they are
// at the scrape, refusals by reason.
func TestEgressMetrics(t *testing.T) {
	m := New()
	counts := Egress{Open: 2, Allowed: 10, UpstreamFailed: 1, Refused: map[string]uint64{"not_listed": 4, "address": 0}}
	m.WatchEgress(func() Egress { return counts })
	counts.Open = 3
	out := scrape(t, m)
	for _, want := range []string{
		"warder_egress_connections_open 3\n",
		"warder_egress_allowed_total 10\n",
		"warder_egress_upstream_failed_total 1\n",
		`warder_egress_refused_total{reason="not_listed"} 4` + "\n",
		`warder_egress_refused_total{reason="address"} 0` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

// TestLLMGatewayMetrics: the gateway's counts are scraped as they are.
func TestLLMGatewayMetrics(t *testing.T) {
	m := New()
	m.WatchLLMGateway(func() LLMGateway {
		return LLMGateway{Requests: 9, Unauthorized: 1, OverBudget: 2, UpstreamFailed: 3, Unmetered: 4, PromptTokens: 100, CompletionTokens: 50}
	})
	out := scrape(t, m)
	for _, want := range []string{
		"warder_llm_requests_total 9\n",
		`warder_llm_refused_total{reason="unauthorized"} 1` + "\n",
		`warder_llm_refused_total{reason="over_budget"} 2` + "\n",
		"warder_llm_upstream_failed_total 3\n",
		"warder_llm_unmetered_total 4\n",
		`warder_llm_tokens_total{kind="prompt"} 100` + "\n",
		`warder_llm_tokens_total{kind="completion"} 50` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
