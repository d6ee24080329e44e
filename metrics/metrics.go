// Package metrics exports what Warder does in the Prometheus format
// (github.com/prometheus/client_golang): API requests, Docker calls and
// streams, agents by status and host ports in use. Everything lives in
// one Registry of its own; nothing is registered globally.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warder/warder"
)

// Metrics holds Warder's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	httpStreams    *prometheus.GaugeVec
	dockerCalls    *prometheus.CounterVec
	dockerDuration *prometheus.HistogramVec
	dockerStreams  *prometheus.GaugeVec
	leader         prometheus.Gauge
}

// New returns Metrics with the Go runtime's and the process's own
// collectors registered beside Warder's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warder_http_requests_total",
			Help: "API requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warder_http_request_duration_seconds",
			Help:    "Time to answer an API request, by route pattern and method; streams are left out.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		httpStreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "warder_http_streams_open",
			Help: "Streaming API responses open now, by kind: logs, stats, events.",
		}, []string{"kind"}),
		dockerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warder_docker_calls_total",
			Help: "Calls to the Docker engine, by operation and result (ok, not_found, conflict, unavailable, error, canceled).",
		}, []string{"operation", "result"}),
		dockerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warder_docker_call_duration_seconds",
			Help:    "Time a Docker engine call took, by operation; streams are left out.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
		dockerStreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "warder_docker_streams_open",
			Help: "Docker engine streams open now, by operation: stats_stream, logs_stream, events.",
		}, []string{"operation"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "warder_leader",
			Help: "1 while this replica holds the leadership lease (follows the runtime's events, runs maintenance), else 0; always 1 on SQLite.",
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.httpStreams,
		m.dockerCalls, m.dockerDuration, m.dockerStreams, m.leader,
	)
	// Zero series, so a scrape shows every family from the start.
	for _, kind := range []string{"logs", "stats", "events"} {
		m.httpStreams.WithLabelValues(kind)
	}
	for _, op := range []string{"stats_stream", "logs_stream", "events"} {
		m.dockerStreams.WithLabelValues(op)
	}
	return m
}

// Leading records whether this replica holds the leadership lease.
func (m *Metrics) Leading(leading bool) {
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request records one answered API request. A streamed response counts
// as a request but not in the duration histogram, which it would swamp.
// route and method come bounded from the API; status is bounded here, as
// the proxy passes on whatever an agent answers.
func (m *Metrics) Request(route, method string, status int, d time.Duration, streamed bool) {
	m.httpRequests.WithLabelValues(route, method, statusLabel(status)).Inc()
	if !streamed {
		m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
	}
}

// statusLabel is status as a label: a registered status code as itself
// (404), any other as its class (4xx).
func statusLabel(status int) string {
	switch {
	case http.StatusText(status) != "":
		return strconv.Itoa(status)
	case status >= 100 && status < 600:
		return strconv.Itoa(status/100) + "xx"
	}
	return "other"
}

// StreamOpened counts a streaming response of kind as open until the
// returned function is called.
func (m *Metrics) StreamOpened(kind string) (closed func()) {
	g := m.httpStreams.WithLabelValues(kind)
	g.Inc()
	return g.Dec
}

// AgentLister is what the state gauges read from the store: counts only,
// since anyone who reaches /metrics may scrape it as often as they like.
type AgentLister interface {
	AgentsByStatus(ctx context.Context) (map[warder.Status]int, error)
	UsedPorts(ctx context.Context) ([]int, error)
}

// WatchStore adds gauges read from the store at each scrape: agents by
// status, and host ports of the range portStart-portEnd in use.
func (m *Metrics) WatchStore(store AgentLister, portStart, portEnd int) {
	m.reg.MustRegister(&stateCollector{store: store, start: portStart, end: portEnd})
}

// statuses are every agent status, so each is exported even when zero.
var statuses = []warder.Status{
	warder.StatusCreated, warder.StatusStarting, warder.StatusRunning, warder.StatusStopping,
	warder.StatusStopped, warder.StatusExited, warder.StatusFailed, warder.StatusMissing,
}

var (
	agentsDesc = prometheus.NewDesc("warder_agents",
		"Agents by status.", []string{"status"}, nil)
	portsUsedDesc = prometheus.NewDesc("warder_ports_in_use",
		"Host ports of the agent port range held by agents.", nil, nil)
	portsTotalDesc = prometheus.NewDesc("warder_ports_total",
		"Host ports in the agent port range.", nil, nil)
)

// stateCollector reads the store when scraped.
type stateCollector struct {
	store      AgentLister
	start, end int
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- agentsDesc
	ch <- portsUsedDesc
	ch <- portsTotalDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(portsTotalDesc, prometheus.GaugeValue, float64(c.end-c.start+1))
	if counts, err := c.store.AgentsByStatus(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(agentsDesc, err)
	} else {
		for _, s := range statuses {
			ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if ports, err := c.store.UsedPorts(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(portsUsedDesc, err)
	} else {
		n := 0
		for _, p := range ports {
			if p >= c.start && p <= c.end {
				n++
			}
		}
		ch <- prometheus.MustNewConstMetric(portsUsedDesc, prometheus.GaugeValue, float64(n))
	}
}
