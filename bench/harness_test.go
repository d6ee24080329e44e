package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/hostports"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// benchClient is a signed-in admin for the benchmark.
type benchClient struct {
	base, token string
	http        *http.Client
}

// benchLogin registers the benchmark's user (the first, so an admin) at
// base and signs it in.
func benchLogin(tb testing.TB, base string) *benchClient {
	tb.Helper()
	c := &benchClient{base: base, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	c.call(tb, "POST", "/api/auth/register", map[string]string{"username": "bench", "email": "bench@example.com", "password": "password-bench"}, 201, nil)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.call(tb, "POST", "/api/auth/login", map[string]string{"username": "bench", "password": "password-bench"}, 200, &tok)
	c.token = tok.AccessToken
	return c
}

// call sends a request (body, if any, as JSON), fails the benchmark
// unless the status is want, and decodes the answer into out if not nil.
func (c *benchClient) call(tb testing.TB, method, path string, body any, want int, out any) {
	tb.Helper()
	if err := c.try(method, path, body, want, out); err != nil {
		tb.Fatal(err)
	}
}

// try is call that returns its failure, for use off the benchmark's
// goroutine.
func (c *benchClient) try(method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		r = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// forEach hands the indexes 0 to n-1 out to k workers, each calling fn
// with the next one until none is left or fn returns false (it failed, or
// the caller's budget is spent), which stops that worker.
func forEach(k, n int, fn func(i int) bool) {
	var next atomic.Int64
	runWorkers(k, func() {
		for {
			if i := int(next.Add(1)) - 1; i >= n || !fn(i) {
				return
			}
		}
	})
}

// runWorkers runs f in k goroutines and waits for them.
func runWorkers(k int, f func()) {
	var wg sync.WaitGroup
	for range k {
		wg.Go(f)
	}
	wg.Wait()
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the p-th quantile of xs (nearest rank); xs is sorted in place.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(p*float64(len(xs))+0.5) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// benchStarts is WARDER_BENCH_STARTS, or def.
func benchStarts(def int) int {
	if v := os.Getenv("WARDER_BENCH_STARTS"); v != "" {
		n, _ := strconv.Atoi(v)
		return n
	}
	return def
}

// floorOf is a runtime straight on the Engine API (uninstrumented, no
// Warder logic) and the WorkloadSpec Warder would use for agent id,
// renamed (prefix) and published on port of its own the way Warder's
// runtime publishes an agent's, under a scope label Warder does not
// follow, so the container is invisible to it (same number of labels).
// The runtime is closed at the end of the benchmark.
func floorOf(b *testing.B, ts *apitest.Server, id string, port int, prefix string) (*docker.Runtime, warder.WorkloadSpec) {
	ctx := context.Background()
	ag, err := ts.App.Store().Agent(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	spec, err := warder.SpecFor(ag, warder.SpecSettings{Network: ts.Config.Network})
	if err != nil {
		b.Fatal(err)
	}
	ports := hostports.NewMemory()
	ports.ClaimPort(ctx, spec.AgentID, port)
	rt, err := docker.New(docker.Config{Network: ts.Config.Network, BindAddress: ts.Config.BindAddress,
		Ports: ports, PortStart: port, PortEnd: port})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close() }) // after the container's cleanup
	spec.Name = testenv.UniqueName(prefix + "-")
	spec.Labels[warder.LabelManaged] = prefix
	return rt, spec
}
