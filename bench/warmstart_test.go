package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// BenchmarkWarmStart measures, round by round in one run (30 rounds, or
// WARDER_BENCH_STARTS, after one warm-up round), from sending the request
// until the default agent answers:
//
//   - warm: POST /api/agents/{id}/start of an agent of 32m and 0.25 CPU on
//     a Warder with a warm pool of 3 containers of that shape
//     (WARDER_WARM_POOL=32m/0.25=3), then GET /api/agents/{id} for the
//     host port, then the agent's own GET /health polled every 2 ms until
//     200;
//   - warm-chat: POST /api/agents/{id}/chat to a never-started agent on
//     the same Warder (it starts the agent on demand, from the pool)
//     until it has answered;
//   - warm-other: as warm, for an agent of 64m and 0.5 CPU: it takes a
//     pool container of the other shape and has its limits updated live;
//   - cold: the same as warm on a second Warder without a pool;
//   - engine: the WorkloadSpec Warder would use, created and started
//     straight through the Engine API (docker.Runtime's Create and Start)
//     under another name and port, then its /health polled the same way.
//
// Each round waits until the pool is full again before its warm starts
// (the operator sizes the pool for the starts it expects), and measures
// cold and engine while no refill runs, alternating which goes first.
// Every agent and container is removed before the next round.
//
//	go test -run '^$' -bench BenchmarkWarmStart -benchtime 1x -timeout 30m ./bench/
func BenchmarkWarmStart(b *testing.B) {
	n := benchStarts(30)
	const poolSize = 3
	warm := e2etest.NewServer(b, func(c *app.Config) {
		c.Network = testenv.UniqueName("wpool-bench-")
		c.WarmPool = []warder.PoolShape{{MemoryBytes: 32 << 20, MilliCPUs: 250, Size: poolSize}}
	})
	cold := e2etest.NewServer(b, nil)
	wc, cc := benchLogin(b, warm.URL), benchLogin(b, cold.URL)
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	small := map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}

	var dWarm, dChat, dOther, dCold, dEngine []float64
	for i := -1; i < n; i++ {
		waitPoolFull(b, cli, warm.Config.Network, poolSize)
		var a, c, o, k struct {
			ID string `json:"id"`
		}
		wc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("warm-%02d", i+1), "container_config": small}, 201, &a)
		wc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("chat-%02d", i+1), "container_config": small}, 201, &c)
		wc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("other-%02d", i+1),
			"container_config": map[string]any{"memory_limit": "64m", "cpu_limit": 0.5}}, 201, &o)
		cc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("cold-%02d", i+1), "container_config": small}, 201, &k)

		w := startToHealth(b, wc, a.ID)
		t0 := time.Now()
		wc.call(b, "POST", "/api/agents/"+c.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)
		ch := time.Since(t0)
		ot := startToHealth(b, wc, o.ID)
		if !claimedFromPool(b, cli, wc, a.ID) || !claimedFromPool(b, cli, wc, c.ID) || !claimedFromPool(b, cli, wc, o.ID) {
			b.Fatalf("round %d: a warm start did not come from the pool", i)
		}
		waitPoolFull(b, cli, warm.Config.Network, poolSize) // no refill during cold and engine

		var co, en time.Duration
		coldSide := func() { co = startToHealth(b, cc, k.ID) }
		engineSide := func() { en = engineToHealth(b, ctx, cold, cc, k.ID, i) }
		if i%2 == 0 {
			coldSide()
			engineSide()
		} else {
			engineSide()
			coldSide()
		}
		for _, id := range []string{a.ID, c.ID, o.ID} {
			wc.call(b, "DELETE", "/api/agents/"+id, nil, 200, nil)
		}
		cc.call(b, "DELETE", "/api/agents/"+k.ID, nil, 200, nil)
		if i < 0 {
			continue // the warm-up
		}
		dWarm, dChat, dOther = append(dWarm, ms(w)), append(dChat, ms(ch)), append(dOther, ms(ot))
		dCold, dEngine = append(dCold, ms(co)), append(dEngine, ms(en))
	}
	for _, m := range []struct {
		name string
		xs   []float64
	}{{"warm", dWarm}, {"warm-chat", dChat}, {"warm-other", dOther}, {"cold", dCold}, {"engine", dEngine}} {
		b.ReportMetric(pct(m.xs, 0.50), m.name+"-p50-ms")
		b.ReportMetric(pct(m.xs, 0.95), m.name+"-p95-ms")
		b.Logf("%s ms %v", m.name, m.xs)
	}
}

// startToHealth is POST /start, GET the agent for its port, then its own
// /health until 200.
func startToHealth(b *testing.B, c *benchClient, id string) time.Duration {
	t0 := time.Now()
	c.call(b, "POST", "/api/agents/"+id+"/start", nil, 200, nil)
	var ag struct {
		HostPort int `json:"host_port"`
	}
	c.call(b, "GET", "/api/agents/"+id, nil, 200, &ag)
	if err := pollHealth(c.http, ag.HostPort, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// engineToHealth creates and starts agent id's spec straight through the
// Engine API on a port of its own, polls its /health, and removes it.
func engineToHealth(b *testing.B, ctx context.Context, ts *apitest.Server, c *benchClient, id string, i int) time.Duration {
	port := ts.Config.PortEnd + 100 + i + 1
	rt, spec := floorOf(b, ts, id, port, "wpool-bench-engine")
	t0 := time.Now()
	cid, err := rt.Create(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Remove(context.WithoutCancel(ctx), cid)
	if _, err := rt.Start(ctx, cid); err != nil {
		b.Fatal(err)
	}
	if err := pollHealth(c.http, port, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// pollHealth asks the agent on host port for GET /health every 2 ms
// until it answers 200.
func pollHealth(c *http.Client, port int, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent on port %d did not answer within %s: %v", port, timeout, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitPoolFull waits until size unclaimed pool containers run.
func waitPoolFull(b *testing.B, cli *moby.Client, network string, size int) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := cli.ContainerList(context.Background(), moby.ContainerListOptions{
			Filters: moby.Filters{}.Add("label", warder.LabelPool+"="+network).Add("status", "running")})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, c := range res.Items {
			if strings.HasPrefix(strings.TrimPrefix(c.Names[0], "/"), docker.PoolPrefix) {
				n++
			}
		}
		if n >= size {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the warm pool never refilled to %d (%d)", size, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// claimedFromPool reports whether the agent's container is a pool's.
func claimedFromPool(b *testing.B, cli *moby.Client, c *benchClient, id string) bool {
	var ag struct {
		ContainerID string `json:"container_id"`
	}
	c.call(b, "GET", "/api/agents/"+id, nil, 200, &ag)
	res, err := cli.ContainerInspect(context.Background(), ag.ContainerID, moby.ContainerInspectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return res.Container.Config.Labels[warder.LabelPool] != ""
}
