package metrics

import "github.com/prometheus/client_golang/prometheus"

// LLMGateway are the LLM gateway's counts (see llmgateway.Gateway.Stats),
// passed as plain values so this package imports nothing of the gateway.
type LLMGateway struct {
	// Requests counts requests forwarded upstream.
	Requests uint64
	// Unauthorized and OverBudget count requests refused before
	// forwarding: a bad token (401), a spent budget (429).
	Unauthorized, OverBudget uint64
	// UpstreamFailed counts upstreams unreachable, failing or cut off;
	// Unmetered, answers that carried no usage.
	UpstreamFailed, Unmetered uint64
	// PromptTokens and CompletionTokens are the tokens metered.
	PromptTokens, CompletionTokens uint64
}

// WatchLLMGateway adds the gateway's counters, read from counts at each
// scrape. Per-agent and per-user usage is the store's, not a label.
func (m *Metrics) WatchLLMGateway(counts func() LLMGateway) {
	m.reg.MustRegister(llmCollector(counts))
}

var (
	llmRequestsDesc = prometheus.NewDesc("warder_llm_requests_total",
		"Requests the LLM gateway forwarded to a model provider.", nil, nil)
	llmRefusedDesc = prometheus.NewDesc("warder_llm_refused_total",
		"Requests the LLM gateway refused before forwarding, by reason: unauthorized (401), over_budget (429).", []string{"reason"}, nil)
	llmFailedDesc = prometheus.NewDesc("warder_llm_upstream_failed_total",
		"Model provider requests that failed: unreachable, no answer in time, or an answer cut off at its bound.", nil, nil)
	llmUnmeteredDesc = prometheus.NewDesc("warder_llm_unmetered_total",
		"Answers that carried no usage to meter.", nil, nil)
	llmTokensDesc = prometheus.NewDesc("warder_llm_tokens_total",
		"Tokens metered from model providers' usage, by kind: prompt, completion.", []string{"kind"}, nil)
)

type llmCollector func() LLMGateway

func (llmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{llmRequestsDesc, llmRefusedDesc, llmFailedDesc, llmUnmeteredDesc, llmTokensDesc} {
		ch <- d
	}
}

func (c llmCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(llmRequestsDesc, s.Requests)
	counter(llmRefusedDesc, s.Unauthorized, "unauthorized")
	counter(llmRefusedDesc, s.OverBudget, "over_budget")
	counter(llmFailedDesc, s.UpstreamFailed)
	counter(llmUnmeteredDesc, s.Unmetered)
	counter(llmTokensDesc, s.PromptTokens, "prompt")
	counter(llmTokensDesc, s.CompletionTokens, "completion")
}
