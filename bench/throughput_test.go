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
	"github.com/warder/warder/internal/e2etest"
	"github.com/warder/warder/internal/testenv"
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

// phase is one load phase's result.
type phase struct {
	reqs    int
	elapsed time.Duration
	cpu     time.Duration
	p50     float64
	p99     float64
	failed  int64
}

func (p phase) rate() float64 { return float64(p.reqs) / p.elapsed.Seconds() }

// hammer sends GET path with token (none if empty) from clients
// goroutines for window.
func hammer(b *testing.B, bc *benchClient, path, token string, clients int, window time.Duration) phase {
	var (
		mu      sync.Mutex
		lat     []float64
		failed  atomic.Int64
		stopped atomic.Bool
	)
	c := *bc
	c.token = token
	time.AfterFunc(window, func() { stopped.Store(true) })
	cpu0 := cpuTime()
	t0 := time.Now()
	runWorkers(clients, func() {
		var mine []float64
		for !stopped.Load() {
			s := time.Now()
			if err := c.try("GET", path, nil, 200, nil); err != nil {
				if failed.Add(1) == 1 {
					b.Error(err)
				}
				continue
			}
			mine = append(mine, ms(time.Since(s)))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	p := phase{reqs: len(lat), elapsed: time.Since(t0), cpu: cpuTime() - cpu0, failed: failed.Load()}
	p.p50, p.p99 = pct(lat, 0.50), pct(lat, 0.99)
	return p
}

// BenchmarkAPIThroughput measures GET /api/agents/{id} (credential
// check, agent read, JSON) against the same server's GET /healthz (the
// HTTP floor: no credential, no store) at 64 concurrent clients, through
// the real HTTP server in this process, on SQLite and on PostgreSQL (a
// throwaway cluster, or WARDER_TEST_DATABASE_URL). Phases run one after
// the other in the same run: /healthz, the read with a login token, the
// read with an API key, /healthz again; each lasts WARDER_BENCH_WINDOW
// (default 10 s). Clients and server share the machine's cores, so the
// ratios to /healthz (the mean of its two phases) are what to read;
// cpu-us/req (process CPU time / requests) is the figure other load
// disturbs least.
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
			const clients = 64
			window := throughputWindow(b)
			path := "/api/agents/" + a.ID
			h1 := hammer(b, bc, "/healthz", "", clients, window)
			tok := hammer(b, bc, path, bc.token, clients, window)
			apikey := hammer(b, bc, path, key.Key, clients, window)
			h2 := hammer(b, bc, "/healthz", "", clients, window)
			floor := (h1.rate() + h2.rate()) / 2
			b.ReportMetric(floor, "healthz-req/s")
			b.ReportMetric(tok.rate(), "token-req/s")
			b.ReportMetric(apikey.rate(), "key-req/s")
			b.ReportMetric(tok.rate()/floor, "token/healthz")
			b.ReportMetric(apikey.rate()/floor, "key/healthz")
			b.ReportMetric(float64(tok.cpu.Microseconds())/float64(max(1, tok.reqs)), "token-cpu-us/req")
			b.ReportMetric(float64(apikey.cpu.Microseconds())/float64(max(1, apikey.reqs)), "key-cpu-us/req")
			b.ReportMetric(float64((h1.cpu+h2.cpu).Microseconds())/float64(max(1, h1.reqs+h2.reqs)), "healthz-cpu-us/req")
			b.ReportMetric(tok.p50, "token-p50-ms")
			b.ReportMetric(tok.p99, "token-p99-ms")
			b.ReportMetric(float64(h1.failed+tok.failed+apikey.failed+h2.failed), "errors")
		})
	}
}
