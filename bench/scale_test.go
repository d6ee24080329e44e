package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/hostports"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// BenchmarkScale runs Warder as a subprocess (built with go build, so its
// peak RSS is its own: VmHWM in /proc/<pid>/status) and creates and starts
// 500 agents (or WARDER_BENCH_SCALE) with 16m of memory and 0.05 CPU, 8 at
// a time, and, in the same run, the floor: as many containers of the same
// spec (workspace volume included) created and started straight through
// the Engine API by 8 workers. It reports both rates and their ratio
// (issue 17 wants >= 0.95 at 1,000), Warder's peak RSS, the p50/p99 of
// GET /api/agents with every agent listed, and checks that every agent
// runs on a port of its own; then it stops and deletes them all, 8 at a
// time, and checks that no container is left.
//
// The engine slows as it churns through containers (run one after the
// other, the second phase took 20% longer with Warder first and 35% with
// the floor first: docs/benchmarks.md), so the two
// are interleaved in blocks of 100 (WARDER_BENCH_SCALE_BLOCK) in the
// order W F F W W F F W ..., which cancels a steady drift. Warder's agents
// stay up; each floor block's containers are removed right after it is
// timed, so every block of either kind meets the same running containers.
// Warder is paused (SIGSTOP) during the floor's blocks: its agents stand
// in, idle, for the floor's earlier containers, and the floor pays for
// none of Warder's background work (probes of the agents already up),
// which Warder's own blocks do pay for.
//
//	WARDER_BENCH_SCALE=1000 WARDER_BENCH_SCALE_BUDGET=60m go test -run '^$' -bench BenchmarkScale -benchtime 1x -timeout 150m ./bench/
func BenchmarkScale(b *testing.B) {
	n := 500
	if v := os.Getenv("WARDER_BENCH_SCALE"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	block := 100
	if v, err := strconv.Atoi(os.Getenv("WARDER_BENCH_SCALE_BLOCK")); err == nil && v > 0 {
		block = v
	}
	const workers = 8
	w := startWarderProcess(b, n)
	bc := benchLogin(b, w.url)
	bc.http.Transport.(*http.Transport).MaxIdleConnsPerHost = workers
	fl := w.newFloor(b, n, workers)

	// The run must end: past the budget no new block is begun, and what
	// was started by then is measured and reported as such.
	budget := 12 * time.Minute
	if v := os.Getenv("WARDER_BENCH_SCALE_BUDGET"); v != "" {
		budget, _ = time.ParseDuration(v)
	}
	ids := make([]string, n)
	startLat := make([]float64, n)
	cpu0 := w.cpu(b)
	api0 := scrapeHistograms(b, w.url, "warder_http_request_duration_seconds")
	engine0 := scrapeHistograms(b, w.url, "warder_docker_call_duration_seconds")
	var total, floorTook time.Duration
	var machine, floorMachine cpuTally
	warderBlock := func(from, to int) {
		c0, t0 := takeCPU(b, w.cmd.Process.Pid), time.Now()
		forEach(workers, to-from, func(j int) bool {
			i := from + j
			var a struct {
				ID string `json:"id"`
			}
			if err := bc.try("POST", "/api/agents", map[string]any{"name": fmt.Sprintf("scale-%03d", i),
				"container_config": map[string]any{"memory_limit": "16m", "cpu_limit": 0.05}}, 201, &a); err != nil {
				b.Error(err)
				return false
			}
			s := time.Now()
			if err := bc.try("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil); err != nil {
				b.Error(err)
				return false
			}
			ids[i], startLat[i] = a.ID, ms(time.Since(s))
			return true
		})
		total += time.Since(t0)
		machine.add(c0, takeCPU(b, w.cmd.Process.Pid))
	}
	floorBlock := func(from, to int) {
		w.pause(b)
		defer w.resume(b)
		floorTook += fl.block(b, from, to, &floorMachine)
	}
	began, done := time.Now(), 0
	for k := 0; done < n && !b.Failed(); k++ {
		if time.Since(began) >= budget {
			b.Logf("budget of %s spent: %d of %d agents started", budget, done, n)
			break
		}
		from, to := done, min(n, done+block)
		if k%2 == 0 {
			warderBlock(from, to)
			floorBlock(from, to)
		} else {
			floorBlock(from, to)
			warderBlock(from, to)
		}
		done = to
	}
	cpu := w.cpu(b) - cpu0
	if b.Failed() {
		b.FailNow()
	}
	n, ids, startLat = done, ids[:done], startLat[:done]
	b.ReportMetric(float64(n), "agents")
	b.ReportMetric(total.Seconds(), "create+start-s")
	b.ReportMetric(float64(n)/total.Seconds(), "agents/s")
	b.ReportMetric(floorTook.Seconds(), "floor-create+start-s")
	b.ReportMetric(float64(n)/floorTook.Seconds(), "floor-containers/s")
	b.ReportMetric(floorTook.Seconds()/total.Seconds(), "ratio-to-floor")
	b.ReportMetric(pct(startLat, 0.50), "start-p50-ms")
	b.ReportMetric(pct(startLat, 0.99), "start-p99-ms")
	// Warder's own CPU over its blocks and the floor's (when it was
	// paused): what it took from the engine on a machine both share.
	b.ReportMetric(cpu, "warder-cpu-s")
	b.ReportMetric(machine.busy, "machine-cpu-s")
	b.ReportMetric(floorMachine.busy, "floor-machine-cpu-s")
	b.Logf("CPU while Warder created and started them: %s", machine)
	b.Logf("CPU while the floor created and started as many: %s", floorMachine)
	b.Logf("the floor's blocks were removed in %s in all (not timed)", fl.removing.Round(time.Second))
	w.breakdown(b, n, api0, engine0)

	// Every agent running, each on a port of its own.
	var list []apitest.Agent
	bc.call(b, "GET", "/api/agents", nil, 200, &list)
	ports := map[int]bool{}
	for _, a := range list {
		if a.Status != warder.StatusRunning || a.HostPort == nil {
			b.Fatalf("agent %s is %s (%s), port %v", a.ID, a.Status, a.StatusReason, a.HostPort)
		}
		ports[*a.HostPort] = true
	}
	if len(list) != n || len(ports) != n {
		b.Fatalf("%d agents listed on %d distinct ports, want %d", len(list), len(ports), n)
	}
	running, err := w.rt.List(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	up := 0
	for _, c := range running {
		if c.Running() {
			up++
		}
	}
	if up != n {
		b.Fatalf("the engine runs %d of the %d agents' containers", up, n)
	}

	// What n running agents cost the machine when nobody asks anything of
	// them but Warder's probes: the load every start of the phase above
	// met, in proportion to how many ran by then.
	w.idleCPU(b, "idle-cpu/s", fmt.Sprintf("%d agents", n))

	var listLat []float64
	for range 200 {
		s := time.Now()
		bc.call(b, "GET", "/api/agents", nil, 200, nil)
		listLat = append(listLat, ms(time.Since(s)))
	}
	b.ReportMetric(pct(listLat, 0.50), "list-p50-ms")
	b.ReportMetric(pct(listLat, 0.99), "list-p99-ms")
	hwm, rss := w.memory(b)
	b.ReportMetric(hwm, "peak-rss-MiB")
	b.ReportMetric(rss, "rss-MiB")
	b.Logf("load with %d agents running: %s", n, loadavg())

	t1 := time.Now()
	forEach(workers, n, func(i int) bool {
		if err := bc.try("POST", "/api/agents/"+ids[i]+"/stop", nil, 200, nil); err != nil {
			b.Error(err)
		}
		if err := bc.try("DELETE", "/api/agents/"+ids[i], nil, 200, nil); err != nil {
			b.Error(err)
		}
		return true
	})
	b.ReportMetric(time.Since(t1).Seconds(), "stop+delete-s")
	bc.call(b, "GET", "/api/agents", nil, 200, &list)
	left, err := w.rt.List(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if len(list) != 0 || len(left) != 0 {
		b.Fatalf("left behind: %d agents, %d containers", len(list), len(left))
	}
}

// floorRun is the floor: containers of the agents' spec created and
// started through the docker runtime alone (no store, no API), on ports
// above Warder's range, in blocks.
type floorRun struct {
	rt       *docker.Runtime
	settings warder.SpecSettings
	image    string
	workers  int
	pid      int // Warder's, for takeCPU
	created  []floorMade
	removing time.Duration // spent removing the blocks, untimed
}

type floorMade struct{ id, volume string }

// newFloor prepares the floor of n containers; cleanup removes whatever
// of them is left, by exact id and volume name.
func (w *warderProcess) newFloor(b *testing.B, n, workers int) *floorRun {
	b.Helper()
	rt, err := docker.New(docker.Config{Network: w.network, BindAddress: "127.0.0.1",
		Ports: hostports.NewMemory(), PortStart: w.portEnd + 1, PortEnd: w.portEnd + n})
	if err != nil {
		b.Fatal(err)
	}
	f := &floorRun{rt: rt, image: w.image, workers: workers, pid: w.cmd.Process.Pid, created: make([]floorMade, n),
		settings: warder.SpecSettings{Network: w.network, Workspaces: rt.Parts().Workspaces != nil, WorkspaceBytes: 1 << 30}}
	b.Cleanup(func() {
		f.remove(b, 0, n)
		rt.Close()
	})
	return f
}

// block creates and starts containers from..to-1, 8 at a time, and
// returns how long that took, adding the machine's CPU meanwhile to
// tally; then it removes them, untimed.
func (f *floorRun) block(b *testing.B, from, to int, tally *cpuTally) time.Duration {
	b.Helper()
	ctx := context.Background()
	c0, t0 := takeCPU(b, f.pid), time.Now()
	forEach(f.workers, to-from, func(j int) bool {
		i := from + j
		a := &warder.Agent{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: "floor",
			ContainerConfig: warder.ContainerConfig{Image: f.image, MemoryLimit: "16m", CPULimit: 0.05}}
		spec, err := warder.SpecFor(a, f.settings)
		if err != nil {
			b.Error(err)
			return false
		}
		spec.Name = testenv.UniqueName("warder-bench-floor-")
		spec.Labels[warder.LabelManaged] = "warder-bench-floor"
		if spec.Workspace != nil {
			f.created[i].volume = spec.Workspace.Name
		}
		cid, err := f.rt.Create(ctx, spec)
		if err != nil {
			b.Error(err)
			return false
		}
		f.created[i].id = cid
		if _, err := f.rt.Start(ctx, cid); err != nil {
			b.Error(err)
			return false
		}
		return true
	})
	took := time.Since(t0)
	tally.add(c0, takeCPU(b, f.pid))
	r0 := time.Now()
	f.remove(b, from, to)
	f.removing += time.Since(r0)
	return took
}

// remove removes containers from..to-1 and their workspace volumes, by
// id and name, 8 at a time.
func (f *floorRun) remove(b *testing.B, from, to int) {
	ctx := context.Background()
	forEach(f.workers, to-from, func(j int) bool {
		c := &f.created[from+j]
		if c.id != "" {
			if err := f.rt.Remove(ctx, c.id); err != nil {
				b.Errorf("floor cleanup: container %s: %v", c.id, err)
			}
		}
		if c.volume != "" {
			if err := f.rt.RemoveWorkspace(ctx, c.volume); err != nil && !errors.Is(err, warder.ErrNotFound) {
				b.Errorf("floor cleanup: volume %s: %v", c.volume, err)
			}
		}
		*c = floorMade{}
		return true
	})
}

// pause stops Warder's process (SIGSTOP) while the floor runs; resume
// lets it go on.
func (w *warderProcess) pause(b *testing.B) {
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		b.Fatal(err)
	}
}

func (w *warderProcess) resume(b *testing.B) {
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		b.Fatal(err)
	}
}

// warderProcess is a Warder running as a child process.
type warderProcess struct {
	url, network, image string
	portEnd             int
	cmd                 *exec.Cmd
	rt                  *docker.Runtime // scoped to the process's network
}

// startWarderProcess builds cmd/warder, runs it with quotas lifted on a
// network of its own and a port range of n agents, and waits until it is
// ready. Cleanup stops it and removes, by exact id and name, every
// container, workspace and network of that deployment.
func startWarderProcess(b *testing.B, n int) *warderProcess {
	b.Helper()
	image, agentBin := e2etest.AgentImage(b)
	dir := b.TempDir()
	bin := e2etest.BuildWarder(b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w := &warderProcess{url: "http://" + addr, network: testenv.UniqueName("warder-bench-net-"), image: image,
		portEnd: 21000 + n + 50}
	w.cmd = exec.Command(bin, "serve")
	w.cmd.Env = append(os.Environ(),
		"WARDER_ADDR="+addr, "WARDER_DATA_DIR="+filepath.Join(dir, "data"),
		"AGENT_NETWORK="+w.network, "AGENT_IMAGE="+image, "WARDER_AGENT_BINARY="+agentBin,
		"AGENT_PORT_RANGE_START=21000", "AGENT_PORT_RANGE_END="+strconv.Itoa(w.portEnd),
		"WARDER_QUOTA_AGENTS=0", "WARDER_QUOTA_RUNNING_AGENTS=0", "WARDER_QUOTA_MEMORY=0", "WARDER_QUOTA_CPUS=0",
		"WARDER_LOG_LEVEL=warn", "WARDER_DATABASE_URL=")
	logs := &apitest.Buffer{}
	w.cmd.Stdout, w.cmd.Stderr = logs, logs
	if w.rt, err = docker.New(docker.Config{Network: w.network}); err != nil {
		b.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		w.cmd.Process.Signal(syscall.SIGCONT) // if a failure left it paused
		w.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- w.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			w.cmd.Process.Kill()
			<-done
		}
		if b.Failed() {
			b.Logf("Warder's log:\n%s", logs.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		left, err := w.rt.List(ctx)
		if err != nil {
			b.Errorf("cleanup: listing containers: %v", err)
		}
		for _, c := range left {
			if err := w.rt.Remove(ctx, c.ID); err != nil {
				b.Errorf("cleanup: removing container %s: %v", c.ID, err)
			}
		}
		if err := w.rt.RemoveWorkspaces(ctx); err != nil {
			b.Errorf("cleanup: removing workspaces: %v", err)
		}
		for _, name := range []string{w.network, docker.InternalNetwork(w.network)} {
			if err := w.rt.RemoveNetwork(ctx, name); errors.Is(err, docker.ErrEndpointCountLeak) {
				b.Logf("cleanup: %v", err) // the engine's defect: nothing is attached
			} else if err != nil {
				b.Errorf("cleanup: removing network %s: %v", name, err)
			}
		}
		w.rt.Close()
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(w.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("Warder not ready within 2m: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return w
}

// breakdown reports where a worker's time per agent went while Warder
// created and started n agents, from Warder's own histograms (api0 and
// engine0 were scraped before): the mean time of each API call, of each
// engine call Warder made (background ones included: the event reconciles
// and probes' inspects), and what is left of the API calls' time outside
// the engine: the store, locks, and waiting for a CPU.
func (w *warderProcess) breakdown(b *testing.B, n int, api0, engine0 histograms) {
	api := scrapeHistograms(b, w.url, "warder_http_request_duration_seconds").since(api0)
	engine := scrapeHistograms(b, w.url, "warder_docker_call_duration_seconds").since(engine0)
	var onPath float64
	for _, route := range []string{"POST /api/agents", "POST /api/agents/{id}/start"} {
		sum, count := api.of(`route="` + route + `"`)
		onPath += sum
		b.Logf("API %s: %.0f calls, mean %.1f ms", route, count, 1000*sum/max(count, 1))
	}
	var inEngine float64
	for _, op := range []string{"create", "start", "inspect", "list"} {
		sum, _ := engine.of(`operation="` + op + `"`)
		inEngine += sum
	}
	// Every engine call Warder made meanwhile, by operation.
	for _, series := range slices.Sorted(maps.Keys(engine)) {
		e := engine[series]
		b.Logf("engine %s: %.0f calls, mean %.1f ms", series, e.count, 1000*e.sum/max(e.count, 1))
	}
	b.ReportMetric(1000*onPath/float64(n), "api-ms/agent")
	b.ReportMetric(1000*inEngine/float64(n), "engine-ms/agent")
	b.ReportMetric(1000*(onPath-inEngine)/float64(n), "outside-engine-ms/agent")
}

// idleCPU reports, as metric, the machine's busy CPU per second over 20
// s in which the bench asks nothing of what runs (what), and logs it by
// process group.
func (w *warderProcess) idleCPU(b *testing.B, metric, what string) {
	b.Helper()
	s0, t0 := takeCPU(b, w.cmd.Process.Pid), time.Now()
	time.Sleep(20 * time.Second)
	s := takeCPU(b, w.cmd.Process.Pid)
	b.ReportMetric((s.busy-s0.busy)/time.Since(t0).Seconds(), metric)
	b.Logf("CPU over %s with %s running and idle: %s", time.Since(t0).Round(time.Second), what, s.since(s0))
}

// memory reads the process's peak and current resident set, in MiB.
func (w *warderProcess) memory(b *testing.B) (hwm, rss float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmHWM":
			hwm = kb / 1024
		case "VmRSS":
			rss = kb / 1024
		}
	}
	return hwm, rss
}

// cpu reads the process's user and system CPU time so far, in seconds
// (/proc/<pid>/stat, fields 14 and 15, in clock ticks of 1/100 s).
func (w *warderProcess) cpu(b *testing.B) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", w.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count after it.
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		b.Fatalf("unexpected /proc/pid/stat: %q", raw)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// loadavg is /proc/loadavg's first three fields.
func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
