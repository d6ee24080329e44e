package bench

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// fakeBackend is the in-memory runtime as app holds one.
type fakeBackend struct{ *runtimetest.Fake }

func (fakeBackend) Close() error { return nil }

// BenchmarkListAgents measures GET /api/agents with 1,000 agents
// (WARDER_BENCH_LIST_AGENTS), through the real HTTP server, service and
// store in this process, on SQLite and on PostgreSQL (a throwaway
// cluster, or WARDER_TEST_DATABASE_URL). Listing asks nothing of the
// engine, so the runtime is the conformance-checked in-memory fake: the
// numbers are Warder's alone, and 200 of the agents are running in it
// (with host ports), the rest created. The agents belong to one user, the
// admin, so "all" is both a user's whole list and an admin's.
//
// Sub-benchmarks, each a fixed number of sequential requests (one client)
// unless named otherwise, reporting p50/p99 in ms:
//
//	all            GET /api/agents: the whole list (the seed's answer)
//	all_8_clients  the same, 8 clients at once
//	page_50        GET /api/agents?limit=50, walking every page by cursor
//	running        GET /api/agents?status=running (200 agents)
//	name           GET /api/agents?name=agent-0500 (one agent: n/2)
//
//	go test -run '^$' -bench BenchmarkListAgents -benchtime 1x -timeout 20m ./bench/
func BenchmarkListAgents(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WARDER_BENCH_LIST_AGENTS")); err == nil && v > 0 {
		n = v
	}
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			cfg := apitest.Config(b)
			cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", 40000, 40999
			cfg.Quota = warder.Limits{Agents: new(int), RunningAgents: new(int), MemoryBytes: new(int64), CPUs: new(float64)}
			if db == "postgres" {
				cfg.DatabaseURL = testenv.Postgres(b)
			}
			ts := apitest.Start(b, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
				return fakeBackend{runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)}, nil
			}, nil)
			bc := benchLogin(b, ts.URL)
			bc.http.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
			t0 := time.Now()
			forEach(8, n, func(i int) bool {
				var a struct {
					ID string `json:"id"`
				}
				body := map[string]any{"name": fmt.Sprintf("agent-%04d", i), "description": "an agent of the listing benchmark",
					"config":           map[string]any{"model": "gpt-3.5-turbo", "temperature": 0.2},
					"container_config": map[string]any{"memory_limit": "64m", "cpu_limit": 0.25, "env_vars": map[string]string{"TEST_VAR": "test_value", "MODE": "bench"}}}
				if err := bc.try("POST", "/api/agents", body, 201, &a); err != nil {
					b.Error(err)
					return false
				}
				if i%5 == 0 && i/5 < 200 {
					if err := bc.try("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil); err != nil {
						b.Error(err)
						return false
					}
				}
				return true
			})
			if b.Failed() {
				return
			}
			b.Logf("%s: %d agents made in %v", db, n, time.Since(t0).Round(time.Millisecond))
			var got []map[string]any
			bc.call(b, "GET", "/api/agents", nil, 200, &got)
			if len(got) != n {
				b.Fatalf("GET /api/agents listed %d agents, want %d", len(got), n)
			}
			// Warm up the server's and the database's caches.
			for range 20 {
				bc.call(b, "GET", "/api/agents", nil, 200, nil)
			}
			b.ResetTimer()
			timed := func(name string, clients, each int, path string, want int) {
				b.Run(name, func(b *testing.B) {
					var mu sync.Mutex
					var lat []float64
					var list []struct{}
					bc.call(b, "GET", path, nil, 200, &list)
					if len(list) != want {
						b.Fatalf("GET %s: %d agents, want %d", path, len(list), want)
					}
					// Timed reads take the whole answer but do not decode
					// it: the client shares the cores with the server.
					runWorkers(clients, func() {
						var mine []float64
						for range each {
							s := time.Now()
							if err := bc.try("GET", path, nil, 200, nil); err != nil {
								b.Error(err)
								return
							}
							mine = append(mine, ms(time.Since(s)))
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					})
					b.ReportMetric(float64(len(lat)), "reads")
					b.ReportMetric(pct(lat, 0.50), "p50-ms")
					b.ReportMetric(pct(lat, 0.99), "p99-ms")
				})
			}
			timed("all", 1, 300, "/api/agents", n)
			timed("all_8_clients", 8, 50, "/api/agents", n)
			timed("running", 1, 300, "/api/agents?status=running", min(200, (n+4)/5))
			timed("name", 1, 300, fmt.Sprintf("/api/agents?name=agent-%04d", n/2), 1)
			b.Run("page_50", func(b *testing.B) {
				var lat []float64
				for range 10 {
					path, seen := "/api/agents?limit=50", 0
					for path != "" {
						s := time.Now()
						status, header, list := pageOf(b, bc, path)
						lat = append(lat, ms(time.Since(s)))
						if status != 200 {
							b.Fatalf("GET %s = %d", path, status)
						}
						seen += list
						path = ""
						if c := header.Get("X-Next-Cursor"); c != "" {
							path = "/api/agents?limit=50&cursor=" + url.QueryEscape(c)
						}
					}
					if seen != n {
						b.Fatalf("pages of 50 gave %d agents, want %d", seen, n)
					}
				}
				b.ReportMetric(float64(len(lat)), "reads")
				b.ReportMetric(pct(lat, 0.50), "p50-ms")
				b.ReportMetric(pct(lat, 0.99), "p99-ms")
			})
		})
	}
}

// pageOf reads one page: its status, headers and how many agents it held.
func pageOf(b *testing.B, bc *benchClient, path string) (int, http.Header, int) {
	req, _ := http.NewRequest("GET", bc.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+bc.token)
	resp, err := bc.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct{}
	if err := jsonDecode(resp, &list); err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, resp.Header, len(list)
}

// jsonDecode decodes resp's body into v.
func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
