package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// stubRuntime answers the calls this test makes; the rest are nil.
type stubRuntime struct {
	warder.Runtime
	streaming chan struct{}
}

func (stubRuntime) Ping(context.Context) error {
	return warder.Errorf(warder.ErrUnavailable, "Docker is unavailable: stub")
}

func (stubRuntime) Inspect(context.Context, string) (warder.WorkloadState, error) {
	return warder.WorkloadState{}, nil
}

// Parts: a stats stream only.
func (s stubRuntime) Parts() warder.RuntimeParts { return warder.RuntimeParts{Stats: s} }

func (s stubRuntime) StatsStream(ctx context.Context, _ string, _ func(warder.Stats)) error {
	close(s.streaming)
	<-ctx.Done()
	return ctx.Err()
}

type stubStore struct{}

func (stubStore) AgentsByStatus(context.Context) (map[warder.Status]int, error) {
	return map[warder.Status]int{warder.StatusRunning: 2, warder.StatusFailed: 1}, nil
}

func (stubStore) UsedPorts(context.Context) ([]int, error) { return []int{9000, 9001, 12345}, nil }

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m := New()
	m.WatchStore(stubStore{}, 9000, 9009)
	rt := m.Runtime(stubRuntime{streaming: make(chan struct{})})
	ctx, cancel := context.WithCancel(context.Background())
	rt.Ping(ctx)
	rt.Inspect(ctx, "x")
	done := make(chan struct{})
	if p := rt.Parts(); p.Files != nil || p.Exec != nil || p.WarmPool != nil || p.Stats == nil {
		t.Fatalf("the wrapper's parts are not the runtime's: %+v", p)
	}
	go func() { rt.Parts().Stats.StatsStream(ctx, "x", nil); close(done) }()
	<-rt.(*runtime).Runtime.(stubRuntime).streaming
	m.Request("GET /api/agents/{id}/stats", "GET", 200, 3*time.Millisecond, false)
	m.Request("GET /api/agents/{id}/logs", "GET", 200, time.Minute, true)
	closed := m.StreamOpened("logs")

	out := scrape(t, m)
	for _, want := range []string{
		`warder_docker_calls_total{operation="ping",result="unavailable"} 1`,
		`warder_docker_calls_total{operation="inspect",result="ok"} 1`,
		`warder_docker_call_duration_seconds_count{operation="inspect"} 1`,
		`warder_docker_streams_open{operation="stats_stream"} 1`,
		`warder_http_requests_total{method="GET",route="GET /api/agents/{id}/stats",status="200"} 1`,
		`warder_http_request_duration_seconds_count{method="GET",route="GET /api/agents/{id}/stats"} 1`,
		`warder_http_requests_total{method="GET",route="GET /api/agents/{id}/logs",status="200"} 1`,
		`warder_http_streams_open{kind="logs"} 1`,
		`warder_agents{status="running"} 2`,
		`warder_agents{status="stopped"} 0`,
		`warder_ports_in_use 2`,
		`warder_ports_total 10`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, `warder_http_request_duration_seconds_count{method="GET",route="GET /api/agents/{id}/logs"}`) {
		t.Error("a streamed response went into the duration histogram")
	}
	cancel()
	<-done
	closed()
	out = scrape(t, m)
	for _, want := range []string{
		`warder_docker_streams_open{operation="stats_stream"} 0`,
		`warder_docker_calls_total{operation="stats_stream",result="canceled"} 1`,
		`warder_http_streams_open{kind="logs"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("after the streams closed, scrape lacks %s", want)
		}
	}
}

// TestStatusLabel: an agent's status, passed on by the proxy, adds at
// most one series per registered status or class.
func TestStatusLabel(t *testing.T) {
	for status, want := range map[int]string{
		200: "200", 404: "404", 418: "418", 502: "502",
		299: "2xx", 499: "4xx", 599: "5xx", 600: "other", 999: "other", 0: "other",
	} {
		if got := statusLabel(status); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", status, got, want)
		}
	}
}
