package metrics

import "github.com/prometheus/client_golang/prometheus"

// Connections are the API listener's counts (see internal/connlimit).
type Connections struct {
	// Open is the connections open now.
	Open int
	// RefusedAddress and RefusedTotal count connections closed on arrival
	// at the per-address and the total cap; ClosedIdle, idle ones closed
	// to make room at the total cap.
	RefusedAddress, RefusedTotal, ClosedIdle uint64
}

// WatchConnections adds the API's connection gauge and counters, read
// from counts at each scrape.
func (m *Metrics) WatchConnections(counts func() Connections) {
	m.reg.MustRegister(connCollector(counts))
}

var (
	connsOpenDesc = prometheus.NewDesc("warder_http_connections_open",
		"API connections open now, at most WARDER_MAX_CONNECTIONS.", nil, nil)
	connsRefusedDesc = prometheus.NewDesc("warder_http_connections_refused_total",
		"API connections closed on arrival, by the cap that was reached: address (WARDER_MAX_CONNECTIONS_PER_ADDRESS) or total (WARDER_MAX_CONNECTIONS).",
		[]string{"cap"}, nil)
	connsIdleClosedDesc = prometheus.NewDesc("warder_http_connections_idle_closed_total",
		"Idle API connections closed to make room for a new one at WARDER_MAX_CONNECTIONS.", nil, nil)
)

// connCollector reads the counts at each scrape.
type connCollector func() Connections

func (connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsOpenDesc
	ch <- connsRefusedDesc
	ch <- connsIdleClosedDesc
}

func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	ch <- prometheus.MustNewConstMetric(connsOpenDesc, prometheus.GaugeValue, float64(s.Open))
	ch <- prometheus.MustNewConstMetric(connsRefusedDesc, prometheus.CounterValue, float64(s.RefusedAddress), "address")
	ch <- prometheus.MustNewConstMetric(connsRefusedDesc, prometheus.CounterValue, float64(s.RefusedTotal), "total")
	ch <- prometheus.MustNewConstMetric(connsIdleClosedDesc, prometheus.CounterValue, float64(s.ClosedIdle))
}
