package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestPortExhaustionAndReuse: a port something else listens on is skipped,
// a full range is a 409 naming it, and a deleted agent's port is reused.
func TestPortExhaustionAndReuse(t *testing.T) {
	t.Parallel()
	const start = 19600
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", start+1))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ts := newTestServer(t, func(c *app.Config) { c.PortStart, c.PortEnd = start, start+2 })
	c := ts.register(t, "root")

	a, b, third := c.CreateAgent("a"), c.CreateAgent("b"), c.CreateAgent("c")
	ports := map[string]int{}
	for _, ag := range []apitest.Agent{a, b} {
		c.MustDo("POST", "/api/agents/"+ag.ID+"/start", nil, 200, nil)
		var got apitest.Agent
		c.MustDo("GET", "/api/agents/"+ag.ID, nil, 200, &got)
		ports[ag.Name] = *got.HostPort
	}
	if ports["a"] != start || ports["b"] != start+2 {
		t.Fatalf("ports = %v, want a=%d b=%d (skipping the busy %d)", ports, start, start+2, start+1)
	}
	status, raw := c.Do("POST", "/api/agents/"+third.ID+"/start", nil)
	want := fmt.Sprintf("%d-%d", start, start+2)
	if status != http.StatusConflict || !strings.Contains(apitest.DetailOf(t, raw), want) {
		t.Fatalf("start with the range full = %d %s, want 409 naming %s", status, raw, want)
	}
	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	c.MustDo("POST", "/api/agents/"+third.ID+"/start", nil, 200, nil)
	var got apitest.Agent
	c.MustDo("GET", "/api/agents/"+third.ID, nil, 200, &got)
	if *got.HostPort != start || got.Status != "running" {
		t.Fatalf("after delete the third agent got %+v, want port %d", got, start)
	}
}

// TestConcurrentStarts: 50 agents started at once all run, each on a port
// of its own, and delete cleans every one of them up.
func TestConcurrentStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("50 containers: skipped in -short mode")
	}
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	const n = 50
	agents := make([]apitest.Agent, n)
	for i := range agents {
		agents[i] = c.CreateAgent(fmt.Sprintf("agent-%02d", i))
	}
	began := time.Now()
	apitest.Parallel(n, func(i int) {
		if status, raw := c.Do("POST", "/api/agents/"+agents[i].ID+"/start", nil); status != 200 {
			t.Errorf("start %d = %d %s", i, status, raw)
		}
	})
	t.Logf("%d concurrent starts took %s", n, time.Since(began))
	var list []apitest.Agent
	c.MustDo("GET", "/api/agents", nil, 200, &list)
	seen := map[int]string{}
	for _, a := range list {
		if a.Status != "running" || a.HostPort == nil {
			t.Errorf("agent %s: status %s port %v", a.Name, a.Status, a.HostPort)
			continue
		}
		if other, dup := seen[*a.HostPort]; dup {
			t.Errorf("port %d given to %s and %s", *a.HostPort, other, a.Name)
		}
		seen[*a.HostPort] = a.Name
	}
	if len(seen) != n {
		t.Fatalf("%d distinct ports for %d agents", len(seen), n)
	}
	began = time.Now()
	apitest.Parallel(n, func(i int) {
		if status, raw := c.Do("DELETE", "/api/agents/"+agents[i].ID, nil); status != 200 {
			t.Errorf("delete %d = %d %s", i, status, raw)
		}
	})
	t.Logf("%d concurrent deletes took %s", n, time.Since(began))
	c.MustDo("GET", "/api/agents", nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("%d agents left after deleting all", len(list))
	}
}
