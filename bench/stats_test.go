package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder/internal/testkit/e2etest"
)

// BenchmarkStatsRead measures stats reads with many running agents (50,
// or WARDER_BENCH_AGENTS): GET /api/agents/{id}/stats through the real
// HTTP server, one client and eight at once, beside direct per-call
// Docker stats requests (what a read cost before the collector: the
// engine waits for a second sample) and one-shot ones (no CPU figure),
// measured in the same run. Each sub-benchmark reports p50-ms and p99-ms.
//
//	go test -run '^$' -bench BenchmarkStatsRead -benchtime 5s -timeout 30m ./bench/
func BenchmarkStatsRead(b *testing.B) {
	n := 50
	if v := os.Getenv("WARDER_BENCH_AGENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ts := e2etest.NewServer(b, nil)
	bc := benchLogin(b, ts.URL)
	ids, containers := bc.startAgents(b, n)
	b.Logf("%d agents running", len(ids))

	b.Run("api", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			lat = append(lat, bc.readStats(b, ids[i%len(ids)]))
		}
		reportLatencies(b, lat)
	})
	b.Run("api_8_clients", func(b *testing.B) {
		var mu sync.Mutex
		lat := make([]time.Duration, 0, b.N)
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 goroutines on this machine's 2 cores
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			i := 0
			for pb.Next() {
				mine = append(mine, bc.readStats(b, ids[i%len(ids)]))
				i++
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		reportLatencies(b, lat)
	})
	b.Run("docker_per_call", func(b *testing.B) {
		// At least 10 calls: each takes a second or two.
		lat := make([]time.Duration, 0, max(b.N, 10))
		for i := 0; i < max(b.N, 10); i++ {
			start := time.Now()
			if _, err := ts.App.Runtime().Stats(context.Background(), containers[i%len(containers)]); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatencies(b, lat)
	})
	b.Run("docker_one_shot", func(b *testing.B) {
		cli, err := moby.New(moby.FromEnv)
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		lat := make([]time.Duration, 0, max(b.N, 10))
		for i := 0; i < max(b.N, 10); i++ {
			start := time.Now()
			res, err := cli.ContainerStats(context.Background(), containers[i%len(containers)], moby.ContainerStatsOptions{})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			lat = append(lat, time.Since(start))
		}
		reportLatencies(b, lat)
	})
}

// reportLatencies reports the p50 and p99 of lat, and its mean as ns/op.
func reportLatencies(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		return float64(lat[max(0, min(i, len(lat)-1))]) / float64(time.Millisecond)
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum)/float64(len(lat)), "ns/op")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "reads")
}

// readStats is one timed GET /stats.
func (c *benchClient) readStats(tb testing.TB, id string) time.Duration {
	start := time.Now()
	c.call(tb, "GET", "/api/agents/"+id+"/stats", nil, 200, nil)
	return time.Since(start)
}

// startAgents creates and starts n agents, four at a time, and waits
// until each one's stats are served; it returns agent and container ids.
func (c *benchClient) startAgents(tb testing.TB, n int) (ids, containers []string) {
	tb.Helper()
	ids, containers = make([]string, n), make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- c.startOne(i, ids, containers)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids, containers
}

func (c *benchClient) startOne(i int, ids, containers []string) error {
	var a struct {
		ID          string `json:"id"`
		ContainerID string `json:"container_id"`
	}
	body := map[string]any{"name": fmt.Sprintf("bench-%02d", i), "container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}}
	if err := c.try("POST", "/api/agents", body, 201, &a); err != nil {
		return fmt.Errorf("create agent %d: %w", i, err)
	}
	if err := c.try("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil); err != nil {
		return fmt.Errorf("start agent %d: %w", i, err)
	}
	if err := c.try("GET", "/api/agents/"+a.ID, nil, 200, &a); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.try("GET", "/api/agents/"+a.ID+"/stats", nil, 200, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent %d: no stats within 30s: %w", i, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ids[i], containers[i] = a.ID, a.ContainerID
	return nil
}
