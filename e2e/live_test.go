package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// startAgent creates and starts an agent of c's and waits until it answers.
func startAgent(c *apitest.Client, name string) apitest.Agent {
	c.T.Helper()
	a := c.CreateAgent(name)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	waitHealthy(c.T, *a.HostPort)
	return a
}

// TestLogsFollow: a follow sees each line as the agent writes it, as SSE
// and as plain text; since works without follow; stopping the agent ends
// both streams.
func TestLogsFollow(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := startAgent(c, "talker")
	base := "/api/agents/" + a.ID + "/logs"

	sse := c.Open(base+"?follow=true&lines=0&timestamps=true", true)
	if ct := sse.Resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	text := c.Open(base+"?follow=true&lines=1", false)
	if ct := text.Resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || text.Resp.ContentLength != -1 {
		t.Fatalf("plain follow: Content-Type %q, length %d; want chunked text", ct, text.Resp.ContentLength)
	}
	if l := text.NextLine(t, 5*time.Second); !strings.HasPrefix(l, "stdout ") {
		t.Fatalf("lines=1 began with %q", l)
	}
	for i := range 3 {
		path := fmt.Sprintf("/nothing-here?line=%d", i)
		hit(t, *a.HostPort, path)
		ev := sse.Next(t, 5*time.Second)
		var l warder.LogLine
		ev.Decode(t, &l)
		if ev.Name != "stdout" || l.Stream != "stdout" || !strings.Contains(l.Text, "GET /nothing-here 404") || time.Since(l.Time) > time.Minute {
			t.Fatalf("request %d: event %s %+v", i, ev.Name, l)
		}
		if line := text.NextLine(t, 5*time.Second); !strings.HasPrefix(line, "stdout ") || !strings.Contains(line, "GET /nothing-here 404") {
			t.Fatalf("request %d: plain line %q", i, line)
		}
	}

	// Without follow, since bounds the JSON logs.
	var logs struct{ Logs string }
	c.MustDo("GET", base+"?lines=1000&since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), nil, 200, &logs)
	if logs.Logs != "" {
		t.Fatalf("logs since an hour from now = %q", logs.Logs)
	}
	c.MustDo("GET", base+"?since=1h", nil, 200, &logs)
	if !strings.Contains(logs.Logs, "warder-agent starting") {
		t.Fatalf("logs since 1h lack the start-up line: %q", logs.Logs)
	}
	status, raw := c.Do("GET", base+"?since=yesterday", nil)
	if status != 400 || !strings.Contains(apitest.DetailOf(t, raw), "since") {
		t.Fatalf("since=yesterday = %d %s", status, raw)
	}

	// The container stops: the SSE stream says so and ends; so does the text.
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	for {
		ev := sse.Next(t, 15*time.Second)
		if ev.Name == "end" {
			if !strings.Contains(ev.Data, "stopped") {
				t.Fatalf("end event %s", ev.Data)
			}
			break
		}
	}
	select {
	case _, open := <-sse.Events:
		if open {
			t.Fatal("event after the end event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SSE stream still open after its end event")
	}
	for {
		select {
		case _, open := <-text.Lines:
			if open {
				continue // the agent's shutdown lines
			}
		case <-time.After(15 * time.Second):
			t.Fatal("plain text follow still open 15s after the agent stopped")
		}
		break
	}
	apitest.WaitMetric(t, ts.URL, `warder_docker_streams_open{operation="logs_stream"}`, 0, 5*time.Second)
}

// TestLogsFollowDisconnect: a client that leaves a follow releases its
// Docker stream, and no goroutine is left behind.
func TestLogsFollowDisconnect(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := startAgent(c, "quiet")
	// Nobody reads its stats, so the collector follows nothing (stats
	// are followed from the first read): the goroutines counted below
	// are the logs stream's alone.
	apitest.WaitMetric(t, ts.URL, `warder_docker_streams_open{operation="stats_stream"}`, 0, 5*time.Second)
	http.DefaultClient.CloseIdleConnections()
	before := goleak.IgnoreCurrent()
	goroutines := runtime.NumGoroutine()

	s := c.Open("/api/agents/"+a.ID+"/logs?follow=true&lines=0", true)
	apitest.WaitMetric(t, ts.URL, `warder_docker_streams_open{operation="logs_stream"}`, 1, 5*time.Second)
	apitest.WaitMetric(t, ts.URL, `warder_http_streams_open{kind="logs"}`, 1, 5*time.Second)
	hit(t, *a.HostPort, "/nothing-here")
	s.Next(t, 5*time.Second)
	t.Logf("goroutines: %d before the stream, %d with it open", goroutines, runtime.NumGoroutine())

	s.Close() // the client goes away without a word
	apitest.WaitMetric(t, ts.URL, `warder_docker_streams_open{operation="logs_stream"}`, 0, 5*time.Second)
	apitest.WaitMetric(t, ts.URL, `warder_http_streams_open{kind="logs"}`, 0, 5*time.Second)
	http.DefaultClient.CloseIdleConnections()
	// Idle keep-alive connections to Docker may come and go with the
	// background work (resync, stats sync); nothing else may stay.
	var err error
	for range 5 { // goleak retries for about a second and a half each time
		err = goleak.Find(before,
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
			// The egress proxy starts serving once the agents' internal
			// network exists, whenever that is: it is no stream's.
			goleak.IgnoreAnyFunction("github.com/warder/warder/egress.(*Proxy).Serve.func1"))
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("goroutines left after the client left: %v", err)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, f := range []string{"StreamLogs", "streamLogs", "demuxLines"} {
		if strings.Contains(stacks, f) {
			t.Fatalf("a goroutine is still in %s", f)
		}
	}
	t.Logf("goroutines after: %d", runtime.NumGoroutine())
}

// TestStatsFromCollector: stats come from the collector's stream: a read
// answers at once, the history holds recent samples, a stream delivers a
// sample a second with a CPU figure, and a stop ends it all clearly.
func TestStatsFromCollector(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := startAgent(c, "busy")
	base := "/api/agents/" + a.ID + "/stats"

	s := c.Open(base+"?stream=true", true)
	var last time.Time
	for i := range 2 {
		ev := s.Next(t, 5*time.Second)
		var st map[string]any
		ev.Decode(t, &st)
		cpu, ok := st["cpu_percent"].(float64)
		at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(st["read_at"]))
		if ev.Name != "stats" || !ok || cpu < 0 || !strings.HasSuffix(fmt.Sprint(st["cpu_usage"]), "%") || st["memory_bytes"].(float64) <= 0 {
			t.Fatalf("sample %d: %s %v", i, ev.Name, st)
		}
		if !at.After(last) {
			t.Fatalf("sample %d read at %v, not after %v", i, at, last)
		}
		last = at
	}

	start := time.Now()
	var one struct{ Stats map[string]any }
	c.MustDo("GET", base, nil, 200, &one)
	t.Logf("GET /stats from the collector took %v", time.Since(start))
	if _, ok := one.Stats["cpu_percent"].(float64); !ok || one.Stats["memory_limit_bytes"].(float64) != 32<<20 {
		t.Fatalf("stats = %v", one.Stats)
	}
	var hist struct {
		Stats   map[string]any
		History []warder.Stats
	}
	c.MustDo("GET", base+"?history=5m", nil, 200, &hist)
	if len(hist.History) < 2 || hist.Stats["read_at"] == nil {
		t.Fatalf("history = %d samples, stats %v", len(hist.History), hist.Stats)
	}
	for i := 1; i < len(hist.History); i++ {
		if !hist.History[i].ReadAt.After(hist.History[i-1].ReadAt) {
			t.Fatalf("history out of order at %d", i)
		}
	}
	for q, want := range map[string]string{"history=2h": "at most", "history=soon": "duration", "history=5m&stream=true": "together"} {
		status, raw := c.Do("GET", base+"?"+q, nil)
		if status != 400 || !strings.Contains(apitest.DetailOf(t, raw), want) {
			t.Fatalf("?%s = %d %s", q, status, raw)
		}
	}
	apitest.WaitMetric(t, ts.URL, `warder_docker_streams_open{operation="stats_stream"}`, 1, time.Second)

	// Stop: the stream ends saying why, reads say so, and the collector
	// lets its Docker stream go.
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	for {
		ev := s.Next(t, 10*time.Second)
		if ev.Name == "end" {
			if !strings.Contains(ev.Data, "not running") {
				t.Fatalf("end event %s", ev.Data)
			}
			break
		}
	}
	status, raw := c.Do("GET", base, nil)
	if status != http.StatusConflict || !strings.Contains(apitest.DetailOf(t, raw), "not running") {
		t.Fatalf("stats of a stopped agent = %d %s", status, raw)
	}
	status, raw = c.Do("GET", base+"?stream=true", nil)
	if status != http.StatusConflict {
		t.Fatalf("stream of a stopped agent = %d %s", status, raw)
	}
	apitest.WaitMetric(t, ts.URL, `warder_docker_streams_open{operation="stats_stream"}`, 0, 5*time.Second)
}

// TestMetricsAndRequestIDs: the scrape has every family, and a request's
// id is echoed and in its log lines.
func TestMetricsAndRequestIDs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *app.Config) { c.LogLevel = "info" })
	c := ts.register(t, "root")
	a := startAgent(c, "counted")
	c.MustDo("GET", "/api/agents/"+a.ID+"/stats", nil, 200, nil)

	req, _ := http.NewRequest("GET", ts.URL+"/api/agents/"+a.ID, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("X-Request-ID", "req-for-the-log-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-ID") != "req-for-the-log-42" {
		t.Fatalf("X-Request-ID = %q", resp.Header.Get("X-Request-ID"))
	}
	// The request is logged once its handler is done, which may be just
	// after the client has the answer.
	logged := func() bool {
		for _, l := range strings.Split(ts.Logs.String(), "\n") {
			if strings.Contains(l, "request_id=req-for-the-log-42") && strings.Contains(l, "route=\"GET /api/agents/{id}\"") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !logged(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line carries the request id:\n%s", ts.Logs.String())
		}
	}

	out := apitest.Scrape(t, ts.URL)
	for _, series := range []string{
		`warder_http_requests_total{method="POST",route="POST /api/agents/{id}/start",status="200"}`,
		`warder_http_request_duration_seconds_count{method="GET",route="GET /api/agents/{id}/stats"}`,
		`warder_docker_calls_total{operation="start",result="ok"}`,
		`warder_docker_call_duration_seconds_count{operation="create"}`,
		`warder_agents{status="running"}`,
		`warder_ports_in_use`,
		`warder_ports_total`,
		`warder_docker_streams_open{operation="stats_stream"}`,
		`warder_docker_streams_open{operation="logs_stream"}`,
		`warder_docker_streams_open{operation="events"}`,
		`warder_http_streams_open{kind="logs"}`,
		`go_goroutines`,
	} {
		if apitest.Metric(out, series) < 0 {
			t.Errorf("scrape lacks %s", series)
		}
	}
	if apitest.Metric(out, `warder_agents{status="running"}`) != 1 || apitest.Metric(out, `warder_ports_in_use`) != 1 ||
		apitest.Metric(out, `warder_ports_total`) != 500 || apitest.Metric(out, `warder_docker_streams_open{operation="events"}`) != 1 {
		t.Errorf("state gauges wrong:\n%s", out)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s = %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
}

// hit sends one request to the agent, which logs a line for it.
func hit(t *testing.T, port int, path string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
