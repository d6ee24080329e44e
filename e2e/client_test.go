package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/wire"
)

// TestGoClientOnDocker drives a real agent through the Go client: logs
// that follow until the container stops, live stats of a real container,
// a chat streamed by the default agent, and the events stream; every
// answer checked against the OpenAPI document.
func TestGoClientOnDocker(t *testing.T) {
	ts := newTestServer(t, nil)
	hc := checked(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	anon := client.New(ts.URL, "", client.WithHTTPClient(hc))
	try := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := anon.Register(ctx, wire.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse"})
	try(err)
	c, err := client.Login(ctx, ts.URL, "alice", "correct horse", client.WithHTTPClient(hc))
	try(err)

	changes := make(chan warder.StatusChange, 32)
	evctx, stopEvents := context.WithCancel(ctx)
	go c.Events(evctx, func(ch warder.StatusChange) error { changes <- ch; return nil })
	defer stopEvents()
	// Subscribed once the server counts the stream: a change before that
	// would be missed.
	apitest.WaitMetric(t, ts.URL, `warder_http_streams_open{kind="events"}`, 1, 10*time.Second)

	a, err := c.CreateAgent(ctx, wire.AgentCreate{Name: "helper", ContainerConfig: warder.ContainerConfig{
		MemoryLimit: "64m", CPULimit: 0.5, AutoStart: true}})
	try(err)
	if a.Status != warder.StatusRunning {
		t.Fatalf("created: %+v", a)
	}
	select {
	case ch := <-changes:
		if ch.AgentID != a.ID {
			t.Fatalf("event: %+v", ch)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no status event")
	}

	// Stats of the real container, streamed.
	n := 0
	wctx, stopWatch := context.WithCancel(ctx)
	_, err = c.WatchStats(wctx, a.ID, func(v warder.StatsView) error {
		if v.MemoryLimitBytes != 64<<20 || !strings.HasSuffix(v.CPUUsage, "%") {
			t.Errorf("sample: %+v", v)
		}
		if n++; n == 2 {
			stopWatch()
		}
		return nil
	})
	stopWatch()
	if n < 2 || err != nil {
		t.Fatalf("stats stream ended by its caller: %d samples, %v", n, err)
	}

	// A chat with the default agent's offline model, streamed.
	var pieces []string
	reply, err := c.ChatStream(ctx, a.ID, wire.ChatRequest{Content: "hello"}, func(p string) error {
		pieces = append(pieces, p)
		return nil
	})
	try(err)
	if reply.Content == "" || strings.Join(pieces, "") != reply.Content {
		t.Fatalf("chat: %q from %q", reply.Content, pieces)
	}

	// Logs that follow end when the container stops.
	type end struct {
		reason string
		err    error
		lines  int
	}
	done := make(chan end, 1)
	go func() {
		lines := 0
		r, err := c.StreamLogs(ctx, a.ID, client.LogOptions{Tail: 10, Follow: true}, func(warder.LogLine) error { lines++; return nil })
		done <- end{r, err, lines}
	}()
	apitest.WaitMetric(t, ts.URL, `warder_http_streams_open{kind="logs"}`, 1, 10*time.Second)
	stopped, err := c.StopAgent(ctx, a.ID)
	try(err)
	if stopped.ID != a.ID || stopped.Status != warder.StatusStopped {
		t.Fatalf("stop returned %+v, want the stopped agent", stopped)
	}
	select {
	case e := <-done:
		if e.err != nil || e.reason != "the agent container stopped" || e.lines == 0 {
			t.Fatalf("logs -f: %+v", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f did not end when the container stopped")
	}
	if _, err := c.Stats(ctx, a.ID); client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("stats of a stopped agent: %v", err)
	}
	try(c.DeleteAgent(ctx, a.ID))
}
