package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// Egress are the egress proxy's counts (see egress.Proxy.Stats), passed
// as plain values so this package imports nothing of the proxy.
type Egress struct {
	// Open is the upstream connections open through the proxy now.
	Open int
	// Allowed counts tunnels and requests let through; UpstreamFailed,
	// allowed ones whose destination failed (502).
	Allowed, UpstreamFailed uint64
	// Refused counts refusals by reason (not_listed, address, ...).
	Refused map[string]uint64
}

// WatchEgress adds the egress proxy's gauge and counters, read from
// counts at each scrape. Per-agent detail is not a label (agents are
// unbounded); it is in the proxy's log and its audit summaries.
func (m *Metrics) WatchEgress(counts func() Egress) {
	m.reg.MustRegister(egressCollector(counts))
}

var (
	egressOpenDesc = prometheus.NewDesc("warder_egress_connections_open",
		"Upstream connections open through the egress proxy now (tunnels and requests in flight).", nil, nil)
	egressAllowedDesc = prometheus.NewDesc("warder_egress_allowed_total",
		"Tunnels and requests the egress proxy let through.", nil, nil)
	egressFailedDesc = prometheus.NewDesc("warder_egress_upstream_failed_total",
		"Allowed destinations the egress proxy could not reach, or that broke off (answered 502).", nil, nil)
	egressRefusedDesc = prometheus.NewDesc("warder_egress_refused_total",
		"Connections and requests the egress proxy refused, by reason: unauthenticated, not_listed, address, sni_mismatch, limit, bad_request, unresolvable.",
		[]string{"reason"}, nil)
)

type egressCollector func() Egress

func (egressCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- egressOpenDesc
	ch <- egressAllowedDesc
	ch <- egressFailedDesc
	ch <- egressRefusedDesc
}

func (c egressCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	ch <- prometheus.MustNewConstMetric(egressOpenDesc, prometheus.GaugeValue, float64(s.Open))
	ch <- prometheus.MustNewConstMetric(egressAllowedDesc, prometheus.CounterValue, float64(s.Allowed))
	ch <- prometheus.MustNewConstMetric(egressFailedDesc, prometheus.CounterValue, float64(s.UpstreamFailed))
	reasons := make([]string, 0, len(s.Refused))
	for r := range s.Refused {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		ch <- prometheus.MustNewConstMetric(egressRefusedDesc, prometheus.CounterValue, float64(s.Refused[r]), r)
	}
}
