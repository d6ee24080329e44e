package docker

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

// BenchmarkStatsStreamCost measures what following every running
// container's stats costs the engine: the CPU time of dockerd,
// containerd, its shims and runc (read from /proc, so the engine must run
// on this machine) over 30 s with n agent containers running (50, or
// WARDER_BENCH_AGENTS), first with no stats stream open, then with one
// stream per container, as Warder's collector keeps. It reports cores
// used (engine-cores-*) and how busy the whole machine was (busy-%-*).
//
//	go test -run '^$' -bench BenchmarkStatsStreamCost -benchtime 1x -timeout 30m ./docker/
func BenchmarkStatsStreamCost(b *testing.B) {
	n := 50
	if v := os.Getenv("WARDER_BENCH_AGENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if e, _, _ := engineCPU(); e == 0 {
		b.Skip("no dockerd process on this machine to measure")
	}
	r := newRuntime(b, nil)
	ctx := context.Background()
	if err := r.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	var ids []string
	for range n {
		spec := testSpec(b, r)
		id, err := r.Create(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	time.Sleep(20 * time.Second) // let start-up and first health checks settle
	const window = 30 * time.Second
	engine, busy := measureCPU(window)
	b.ReportMetric(engine, "engine-cores-no-streams")
	b.ReportMetric(busy, "busy-%-no-streams")

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var samples sync.Map
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.StatsStream(sctx, id, func(warder.Stats) { samples.Store(id, true) })
		}()
	}
	time.Sleep(5 * time.Second)
	engine, busy = measureCPU(window)
	cancel()
	wg.Wait()
	got := 0
	samples.Range(func(any, any) bool { got++; return true })
	if got != n {
		b.Fatalf("only %d of %d streams delivered a sample", got, n)
	}
	b.ReportMetric(engine, "engine-cores-streams")
	b.ReportMetric(busy, "busy-%-streams")
}

// measureCPU returns the engine processes' CPU use in cores and the
// machine's busy share in percent over d.
func measureCPU(d time.Duration) (engineCores, busyPercent float64) {
	e0, t0, i0 := engineCPU()
	time.Sleep(d)
	e1, t1, i1 := engineCPU()
	return (e1 - e0) / d.Seconds(), 100 * (1 - (i1-i0)/(t1-t0))
}

// engineCPU reads, in seconds, the CPU time used by the engine's
// processes (children that exited included) and the machine's total and
// idle time.
func engineCPU() (engine, total, idle float64) {
	const tick = 100.0 // USER_HZ on Linux
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(raw)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		name := s[open+1 : end]
		if name != "dockerd" && name != "containerd" && !strings.HasPrefix(name, "containerd-shim") && name != "runc" {
			continue
		}
		f := strings.Fields(s[end+2:])
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseFloat(f[i], 64)
			engine += v / tick
		}
	}
	raw, _ := os.ReadFile("/proc/stat")
	fields := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])[1:]
	for i, v := range fields {
		x, _ := strconv.ParseFloat(v, 64)
		total += x / tick
		if i == 3 || i == 4 { // idle, iowait
			idle += x / tick
		}
	}
	return engine, total, idle
}
