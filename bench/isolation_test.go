package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// BenchmarkIsolation measures the cost of gVisor (issue 32), side by side
// in one run: for each isolation level, runc then gvisor, a Warder whose
// default level it is with a warm pool of 3 containers of 32m and 0.25
// CPU (so its pool is of that level), and a second without a pool, and
// then, in rounds (10, or WARDER_BENCH_STARTS, after one warm-up):
//
//   - cold: POST /api/agents/{id}/start on the Warder without a pool,
//     then GET the agent for its host port, then its /health every 2 ms
//     until 200;
//   - warm: the same on the Warder with the pool (checked to come from it);
//   - exec: POST /api/agents/{id}/exec of `/warder-agent echo hi` on the
//     warm agent until its answer is read (the exec's end included: under
//     gVisor, kill-exec runs in the sandbox);
//   - chat: POST /api/agents/{id}/chat {"content": "hello"} until answered;
//   - upload-100mb: once per level, PUT /api/agents/{id}/files/big of
//     100 MB of random bytes, until answered;
//   - memory and idle CPU per agent: 5 agents (WARDER_BENCH_IDLE) started
//     and left alone 10 s, then their cgroup's memory (the engine's stats:
//     gVisor's Sentry and Gofer included) and their CPU over 20 s
//     (WARDER_BENCH_WINDOW), averaged per agent.
//
// It needs the engine to list runsc (bash .ci/gvisor.sh register).
//
//	go test -run '^$' -bench BenchmarkIsolation -benchtime 1x -timeout 60m ./bench/
func BenchmarkIsolation(b *testing.B) {
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	info, err := cli.Info(context.Background(), moby.InfoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, ok := info.Info.Runtimes["runsc"]; !ok {
		b.Skip("the engine has no runtime runsc: bash .ci/gvisor.sh register")
	}
	n := benchStarts(10)
	for _, level := range []warder.Isolation{warder.IsolationRunc, warder.IsolationGVisor} {
		b.Run(string(level), func(b *testing.B) { benchLevel(b, cli, level, n) })
	}
}

// benchLevel is BenchmarkIsolation for one level.
func benchLevel(b *testing.B, cli *moby.Client, level warder.Isolation, n int) {
	const poolSize = 3
	at := func(c *app.Config) { c.Isolations = []warder.Isolation{level} }
	warm := e2etest.NewServer(b, func(c *app.Config) {
		at(c)
		c.Network = testenv.UniqueName("iso-bench-")
		c.WarmPool = []warder.PoolShape{{MemoryBytes: 32 << 20, MilliCPUs: 250, Size: poolSize}}
	})
	cold := e2etest.NewServer(b, at)
	wc, cc := benchLogin(b, warm.URL), benchLogin(b, cold.URL)
	small := map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}

	var dCold, dWarm, dExec, dChat []float64
	for i := -1; i < n; i++ {
		waitPoolFull(b, cli, warm.Config.Network, poolSize)
		var w, k struct {
			ID string `json:"id"`
		}
		wc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("warm-%02d", i+1), "container_config": small}, 201, &w)
		cc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("cold-%02d", i+1), "container_config": small}, 201, &k)
		dw := startToHealth(b, wc, w.ID)
		if !claimedFromPool(b, cli, wc, w.ID) {
			b.Fatalf("round %d: the warm start did not come from the pool", i)
		}
		waitPoolFull(b, cli, warm.Config.Network, poolSize) // no refill during the rest
		dc := startToHealth(b, cc, k.ID)
		t0 := time.Now()
		raw := wc.raw(b, "POST", "/api/agents/"+w.ID+"/exec", `{"cmd": ["/warder-agent", "echo", "hi"]}`)
		de := time.Since(t0)
		if !strings.Contains(raw, "hi") || !strings.Contains(raw, `"exit_code":0`) {
			b.Fatalf("exec: %s", raw)
		}
		t0 = time.Now()
		wc.call(b, "POST", "/api/agents/"+w.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)
		dh := time.Since(t0)
		wc.call(b, "DELETE", "/api/agents/"+w.ID, nil, 200, nil)
		cc.call(b, "DELETE", "/api/agents/"+k.ID, nil, 200, nil)
		if i < 0 {
			continue // the warm-up
		}
		dCold, dWarm, dExec, dChat = append(dCold, ms(dc)), append(dWarm, ms(dw)), append(dExec, ms(de)), append(dChat, ms(dh))
	}
	for _, m := range []struct {
		name string
		xs   []float64
	}{{"cold", dCold}, {"warm", dWarm}, {"exec", dExec}, {"chat", dChat}} {
		b.ReportMetric(pct(m.xs, 0.50), m.name+"-p50-ms")
		b.ReportMetric(pct(m.xs, 0.95), m.name+"-p95-ms")
		b.Logf("%s %s ms %v", level, m.name, m.xs)
	}
	b.ReportMetric(ms(upload100MB(b, cc)), "upload-100mb-ms")
	mem, cpu := idleCost(b, cli, cc)
	b.ReportMetric(mem/(1<<20), "idle-mem-MiB/agent")
	b.ReportMetric(cpu, "idle-cpu-ms/s/agent")
}

// upload100MB starts an agent, PUTs 100 MB into its workspace, and
// returns how long the upload took.
func upload100MB(b *testing.B, c *benchClient) time.Duration {
	var a struct {
		ID string `json:"id"`
	}
	c.call(b, "POST", "/api/agents", map[string]any{"name": "upload"}, 201, &a)
	defer c.call(b, "DELETE", "/api/agents/"+a.ID+"?keep_workspace=false", nil, 200, nil)
	startToHealth(b, c, a.ID)
	body := make([]byte, 100<<20)
	for i := range body {
		body[i] = byte(i*7 + i>>9) // not all zeros, not compressible to nothing
	}
	req, _ := http.NewRequest("PUT", c.base+"/api/agents/"+a.ID+"/files/big", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != 200 {
		b.Fatalf("upload: %d", resp.StatusCode)
	}
	return d
}

// idleCost starts some agents, leaves them alone, and returns their mean
// memory (bytes) and CPU (ms per second) per agent as the engine's stats
// report them.
func idleCost(b *testing.B, cli *moby.Client, c *benchClient) (mem, cpu float64) {
	k := benchEnvInt("WARDER_BENCH_IDLE", 5)
	window := 20 * time.Second
	if d, err := time.ParseDuration(benchEnv("WARDER_BENCH_WINDOW", "")); err == nil {
		window = d
	}
	ids := make([]string, k)
	for i := range ids {
		var a struct {
			ID          string `json:"id"`
			ContainerID string `json:"container_id"`
		}
		c.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("idle-%02d", i)}, 201, &a)
		defer c.call(b, "DELETE", "/api/agents/"+a.ID, nil, 200, nil)
		startToHealth(b, c, a.ID)
		c.call(b, "GET", "/api/agents/"+a.ID, nil, 200, &a)
		ids[i] = a.ContainerID
	}
	time.Sleep(10 * time.Second)
	cpu0 := make([]uint64, k)
	for i, id := range ids {
		s := containerStats(b, cli, id)
		cpu0[i] = s.CPUStats.CPUUsage.TotalUsage
	}
	time.Sleep(window)
	for i, id := range ids {
		s := containerStats(b, cli, id)
		mem += float64(s.MemoryStats.Usage)
		cpu += float64(s.CPUStats.CPUUsage.TotalUsage-cpu0[i]) / 1e6 / window.Seconds()
	}
	return mem / float64(k), cpu / float64(k)
}

// containerStats is one sample of the engine's stats of container id.
func containerStats(b *testing.B, cli *moby.Client, id string) container.StatsResponse {
	res, err := cli.ContainerStats(context.Background(), id, moby.ContainerStatsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchEnv is the variable name's value, or def.
func benchEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// benchEnvInt is the variable name's value as a number, or def.
func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// raw sends body (JSON) and returns the whole answer, which must be 200:
// for the exec stream.
func (c *benchClient) raw(b *testing.B, method, path, body string) string {
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, out)
	}
	return string(out)
}
