package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// BenchmarkIdleEngineCPU measures what idle agents cost the engine: N
// running agents (200, or WARDER_BENCH_IDLE) that nobody uses, first of an
// image with the HEALTHCHECK the default image had (an exec every 10 s),
// then of today's default image, which Warder probes over HTTP instead,
// in one run. For each it reports the CPU seconds per minute used by the
// engine's processes (dockerd, containerd, the containerd-shims and what
// they reaped) and by Warder, over a window (60 s, or WARDER_BENCH_WINDOW)
// after the agents settled.
//
//	go test -run '^$' -bench BenchmarkIdleEngineCPU -benchtime 1x -timeout 30m ./bench/
func BenchmarkIdleEngineCPU(b *testing.B) {
	n := 200
	if v := os.Getenv("WARDER_BENCH_IDLE"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	window := time.Minute
	if v := os.Getenv("WARDER_BENCH_WINDOW"); v != "" {
		window, _ = time.ParseDuration(v)
	}
	plain, _ := e2etest.AgentImage(b)
	checked := healthCheckedImage(b, plain)
	ts := e2etest.NewServer(b, func(c *app.Config) {
		c.AllowedImages = []string{plain, checked}
		c.AdminAllowedImages = c.AllowedImages
		c.PortEnd = c.PortStart + n + 10
	})
	bc := benchLogin(b, ts.URL)
	for _, phase := range []struct{ name, image string }{{"exec-healthcheck", checked}, {"http-probe", plain}} {
		ids := bc.startIdle(b, n, phase.name, phase.image)
		time.Sleep(15 * time.Second) // start-up work settles
		engine0, warder0 := engineCPU(b), selfCPU()
		time.Sleep(window)
		engine, warderCPU := engineCPU(b)-engine0, selfCPU()-warder0
		perMin := func(d time.Duration) float64 { return d.Seconds() / window.Minutes() }
		b.ReportMetric(perMin(engine), phase.name+"-engine-cpu-s/min")
		b.ReportMetric(perMin(warderCPU), phase.name+"-warder-cpu-s/min")
		b.Logf("%s: %d idle agents: engine %.2f CPU-s/min, Warder %.2f CPU-s/min", phase.name, n, perMin(engine), perMin(warderCPU))
		for _, id := range ids {
			bc.call(b, "DELETE", "/api/agents/"+id, nil, 200, nil)
		}
	}
}

// startIdle creates and starts n agents of image, eight at a time.
func (c *benchClient) startIdle(tb testing.TB, n int, prefix, image string) []string {
	tb.Helper()
	ids := make([]string, n)
	var failed atomic.Value
	forEach(8, n, func(i int) bool {
		var a struct {
			ID string `json:"id"`
		}
		body := map[string]any{"name": fmt.Sprintf("%s-%03d", prefix, i),
			"container_config": map[string]any{"image": image, "memory_limit": "16m", "cpu_limit": 0.05}}
		if err := c.try("POST", "/api/agents", body, 201, &a); err != nil {
			failed.Store(err)
			return false
		}
		ids[i] = a.ID
		if err := c.try("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil); err != nil {
			failed.Store(err)
			return false
		}
		return true
	})
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// healthCheckedImage builds, from image, one with the HEALTHCHECK the
// default image used to have; it is removed by its tag when tb ends.
func healthCheckedImage(tb testing.TB, image string) string {
	tb.Helper()
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	tag := testenv.UniqueName("warder-bench/checked:t")
	df := []byte("FROM " + image + "\nHEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD [\"/warder-agent\",\"health\"]\n")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))})
	tw.Write(df)
	tw.Close()
	res, err := cli.ImageBuild(context.Background(), &buf, moby.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		tb.Fatal(err)
	}
	out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		tb.Fatalf("building %s: %s", tag, out)
	}
	tb.Cleanup(func() {
		if _, err := cli.ImageRemove(context.Background(), tag, moby.ImageRemoveOptions{Force: true}); err != nil {
			tb.Errorf("cleanup: remove image %s: %v", tag, err)
		}
	})
	return tag
}

// engineCPU is the CPU time (user + system, with reaped children) of the
// engine's processes: dockerd, containerd and every containerd-shim.
func engineCPU(tb testing.TB) time.Duration {
	tb.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		tb.Fatal(err)
	}
	var ticks int64
	for _, d := range dirs {
		raw, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(raw)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		name := s[open+1 : close]
		if name != "dockerd" && name != "containerd" && !strings.HasPrefix(name, "containerd-shim") {
			continue
		}
		f := strings.Fields(s[close+2:])
		// Fields after the name: state is f[0]; utime, stime, cutime,
		// cstime are the 14th to 17th fields of stat, f[11] to f[14].
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// selfCPU is this process's CPU time: Warder's, in-process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
