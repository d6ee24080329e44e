package bench

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
)

// BenchmarkPausedIdleCPU compares what idle agents cost running and
// paused: N agents (100, or WARDER_BENCH_IDLE) that nobody uses, first
// running, then all paused, in one run. For each it reports the CPU
// seconds per minute used over a window (60 s, or WARDER_BENCH_WINDOW) by
// the agents' own containers (their cgroups' cpuacct.usage: cgroup v1
// with the cgroupfs driver, as on this machine; skipped where that is not
// found), by the engine's processes, and by Warder (health probes and the
// rest).
//
//	go test -run '^$' -bench BenchmarkPausedIdleCPU -benchtime 1x -timeout 30m ./bench/
func BenchmarkPausedIdleCPU(b *testing.B) {
	n := 100
	if v := os.Getenv("WARDER_BENCH_IDLE"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	window := time.Minute
	if v := os.Getenv("WARDER_BENCH_WINDOW"); v != "" {
		window, _ = time.ParseDuration(v)
	}
	plain, _ := e2etest.AgentImage(b)
	ts := e2etest.NewServer(b, func(c *app.Config) { c.PortEnd = c.PortStart + n + 10 })
	bc := benchLogin(b, ts.URL)
	ids := bc.startIdle(b, n, "idle", plain)
	cids := make([]string, len(ids))
	for i, id := range ids {
		var a struct {
			ContainerID string `json:"container_id"`
		}
		bc.call(b, "GET", "/api/agents/"+id, nil, 200, &a)
		cids[i] = a.ContainerID
	}
	agentsCPU := func() time.Duration {
		var sum time.Duration
		for _, cid := range cids {
			raw, err := os.ReadFile("/sys/fs/cgroup/cpuacct/docker/" + cid + "/cpuacct.usage")
			if err != nil {
				b.Skipf("no cgroup v1 cpuacct for the agents' containers here: %v", err)
			}
			ns, _ := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
			sum += time.Duration(ns)
		}
		return sum
	}
	for _, phase := range []string{"running", "paused"} {
		if phase == "paused" {
			forEach(8, n, func(i int) bool {
				bc.call(b, "POST", "/api/agents/"+ids[i]+"/pause", nil, 200, nil)
				return true
			})
		}
		time.Sleep(15 * time.Second) // start-up work settles
		agents0, engine0, warder0 := agentsCPU(), engineCPU(b), selfCPU()
		time.Sleep(window)
		agents, engine, warderCPU := agentsCPU()-agents0, engineCPU(b)-engine0, selfCPU()-warder0
		perMin := func(d time.Duration) float64 { return d.Seconds() / window.Minutes() }
		b.ReportMetric(perMin(agents), phase+"-agents-cpu-s/min")
		b.ReportMetric(perMin(engine), phase+"-engine-cpu-s/min")
		b.ReportMetric(perMin(warderCPU), phase+"-warder-cpu-s/min")
		b.Logf("%d %s agents: agents %.2f, engine %.2f, Warder %.2f CPU s/min", n, phase, perMin(agents), perMin(engine), perMin(warderCPU))
	}
}
