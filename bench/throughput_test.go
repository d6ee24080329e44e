package bench

import (
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// throughputWindow is how long each phase of BenchmarkAPIThroughput
// runs: 10 s, or WARDER_BENCH_WINDOW (a Go duration).
func throughputWindow(tb testing.TB) time.Duration {
	v := os.Getenv("WARDER_BENCH_WINDOW")
	if v == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("WARDER_BENCH_WINDOW=%q is not a positive duration", v)
	}
	return d
}

// load is what one kind of request met over its slices of the run.
type load struct {
	lat     []float64 // ms, of the requests that succeeded
	elapsed time.Duration
	cpu     time.Duration
	failed  int64
}

func (l *load) rate() float64 { return float64(len(l.lat)) / l.elapsed.Seconds() }

func (l *load) cpuPerReq() float64 {
	return float64(l.cpu.Microseconds()) / float64(max(1, len(l.lat)))
}

// hammer sends GET path with token (none if empty) from clients
// goroutines for d, adding what it met to l.
func hammer(b *testing.B, bc *benchClient, l *load, path, token string, clients int, d time.Duration) {
	var (
		mu      sync.Mutex
		stopped atomic.Bool
	)
	c := *bc
	c.token = token
	time.AfterFunc(d, func() { stopped.Store(true) })
	cpu0 := cpuTime()
	t0 := time.Now()
	runWorkers(clients, func() {
		var mine []float64
		var failed int64
		for !stopped.Load() {
			s := time.Now()
			if err := c.try("GET", path, nil, 200, nil); err != nil {
				if failed++; failed == 1 {
					b.Error(err)
				}
				continue
			}
			mine = append(mine, ms(time.Since(s)))
		}
		mu.Lock()
		l.lat = append(l.lat, mine...)
		l.failed += failed
		mu.Unlock()
	})
	l.elapsed += time.Since(t0)
	l.cpu += cpuTime() - cpu0
}

// BenchmarkAPIThroughput measures GET /api/agents/{id} (credential
// check, agent read, JSON) against the same server's GET /healthz (the
// HTTP floor: no credential, no store) at 64 concurrent clients, through
// the real HTTP server in this process, on SQLite and on PostgreSQL (a
// throwaway cluster, or WARDER_TEST_DATABASE_URL). Three loads take
// turns, a second each, for WARDER_BENCH_WINDOW (default 10 s) each in
// all: /healthz, the read with a login token, the read with an API key.
// Clients and server share the machine's cores, so the ratios to
// /healthz are what to read; cpu-us/req (process CPU time / requests)
// is the figure other load disturbs least.
//
//	go test -run '^$' -bench BenchmarkAPIThroughput -benchtime 1x -timeout 10m ./bench/
func BenchmarkAPIThroughput(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			ts := e2etest.NewServer(b, func(c *app.Config) {
				if db == "postgres" {
					c.DatabaseURL = testenv.Postgres(b)
				}
			})
			bc := benchLogin(b, ts.URL)
			bc.http.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			var a struct {
				ID string `json:"id"`
			}
			bc.call(b, "POST", "/api/agents", map[string]any{"name": "target"}, 201, &a)
			var key struct {
				Key string `json:"key"`
			}
			bc.call(b, "POST", "/api/auth/keys", map[string]any{"name": "bench"}, 201, &key)
			if key.Key == "" {
				b.Fatal("POST /api/auth/keys gave no key")
			}
			const clients, slice = 64, time.Second
			path := "/api/agents/" + a.ID
			// The machine's other load comes and goes: the three kinds
			// take turns a second at a time, so each meets the same.
			var healthz, tok, apikey load
			for range max(1, int(throughputWindow(b)/slice)) {
				hammer(b, bc, &healthz, "/healthz", "", clients, slice)
				hammer(b, bc, &tok, path, bc.token, clients, slice)
				hammer(b, bc, &apikey, path, key.Key, clients, slice)
			}
			floor := healthz.rate()
			b.ReportMetric(floor, "healthz-req/s")
			b.ReportMetric(tok.rate(), "token-req/s")
			b.ReportMetric(apikey.rate(), "key-req/s")
			b.ReportMetric(tok.rate()/floor, "token/healthz")
			b.ReportMetric(apikey.rate()/floor, "key/healthz")
			b.ReportMetric(healthz.cpuPerReq(), "healthz-cpu-us/req")
			b.ReportMetric(tok.cpuPerReq(), "token-cpu-us/req")
			b.ReportMetric(apikey.cpuPerReq(), "key-cpu-us/req")
			b.ReportMetric(pct(tok.lat, 0.50), "token-p50-ms")
			b.ReportMetric(pct(tok.lat, 0.99), "token-p99-ms")
			b.ReportMetric(float64(healthz.failed+tok.failed+apikey.failed), "errors")
		})
	}
}
