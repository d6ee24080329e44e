package bench

import (
	"net/http"
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

// BenchmarkAPIThroughput measures GET /api/agents/{id} (token lookup,
// agent read, JSON) at 64 concurrent clients for 10 s, through the real
// HTTP server in this process, on SQLite and on PostgreSQL (a throwaway
// cluster, or WARDER_TEST_DATABASE_URL). Clients and server share the
// machine's cores. It reports requests/s, p50/p99 and CPU per request.
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
			const clients, window = 64, 10 * time.Second
			var (
				mu      sync.Mutex
				lat     []float64
				failed  atomic.Int64
				stopped atomic.Bool
			)
			time.AfterFunc(window, func() { stopped.Store(true) })
			cpu0 := cpuTime()
			t0 := time.Now()
			runWorkers(clients, func() {
				var mine []float64
				for !stopped.Load() {
					s := time.Now()
					if err := bc.try("GET", "/api/agents/"+a.ID, nil, 200, nil); err != nil {
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
			elapsed := time.Since(t0)
			// CPU per request (server and clients: one process) is what
			// other load on the machine disturbs least.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(max(1, len(lat))), "cpu-us/req")
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(pct(lat, 0.50), "p50-ms")
			b.ReportMetric(pct(lat, 0.99), "p99-ms")
			b.ReportMetric(float64(failed.Load()), "errors")
		})
	}
}
