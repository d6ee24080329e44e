package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/e2etest"
)

// BenchmarkColdStart compares Warder's cold start with the engine's floor,
// pair by pair on the same engine (30 pairs, or WARDER_BENCH_STARTS):
//
//   - start: POST /api/agents/{id}/start until it answers (the container
//     then runs), against the same WorkloadSpec created and started
//     directly through the Engine API (docker.Runtime's Create and Start:
//     one ContainerCreate and one ContainerStart) under another name and
//     port: the floor. It reports p50 and p95 of the per-pair ratio.
//   - answer: from sending POST /start until POST /api/agents/{id}/chat has
//     answered, against the floor's create + start followed by polling the
//     agent's own POST /chat on its port every 5 ms until it answers.
//
// Pairs alternate which side goes first, and each pair's agent and floor
// container are removed before the next, so every start meets the same
// engine.
//
//	go test -run '^$' -bench BenchmarkColdStart -benchtime 1x -timeout 30m ./bench/
func BenchmarkColdStart(b *testing.B) {
	n := benchStarts(30)
	ts := e2etest.NewServer(b, nil)
	bc := benchLogin(b, ts.URL)
	ctx := context.Background()

	// One warm-up of each side so that neither pays for first use (the
	// network, the image's first layer mount, the HTTP connection).
	var start, floor, answer, floorAnswer, ratio, answerRatio []float64
	for i := -1; i < n; i++ {
		var a struct {
			ID string `json:"id"`
		}
		bc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("cold-%02d", i+1),
			"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}}, 201, &a)
		floorPort := ts.Config.PortEnd + 100 + i + 1
		rt, spec := floorOf(b, ts, a.ID, floorPort, "warder-bench-floor")

		var dStart, dAnswer, dFloor, dFloorAnswer time.Duration
		warderSide := func() {
			t0 := time.Now()
			bc.call(b, "POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
			dStart = time.Since(t0)
			bc.call(b, "POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)
			dAnswer = time.Since(t0)
		}
		floorSide := func() {
			t0 := time.Now()
			cid, err := rt.Create(ctx, spec)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { rt.Remove(context.Background(), cid) })
			if _, err := rt.Start(ctx, cid); err != nil {
				b.Fatal(err)
			}
			dFloor = time.Since(t0)
			if err := pollChat(bc.http, floorPort, 30*time.Second); err != nil {
				b.Fatal(err)
			}
			dFloorAnswer = time.Since(t0)
			if err := rt.Remove(ctx, cid); err != nil {
				b.Fatal(err)
			}
		}
		if i%2 == 0 {
			warderSide()
			floorSide()
		} else {
			floorSide()
			warderSide()
		}
		bc.call(b, "DELETE", "/api/agents/"+a.ID, nil, 200, nil)
		if i < 0 {
			continue // the warm-up
		}
		start, floor = append(start, ms(dStart)), append(floor, ms(dFloor))
		answer, floorAnswer = append(answer, ms(dAnswer)), append(floorAnswer, ms(dFloorAnswer))
		ratio = append(ratio, float64(dStart)/float64(dFloor))
		answerRatio = append(answerRatio, float64(dAnswer)/float64(dFloorAnswer))
	}
	b.ReportMetric(pct(start, 0.50), "start-p50-ms")
	b.ReportMetric(pct(floor, 0.50), "floor-p50-ms")
	b.ReportMetric(pct(ratio, 0.50), "ratio-p50")
	b.ReportMetric(pct(ratio, 0.95), "ratio-p95")
	b.ReportMetric(pct(answer, 0.50), "answer-p50-ms")
	b.ReportMetric(pct(floorAnswer, 0.50), "floor-answer-p50-ms")
	b.ReportMetric(pct(answerRatio, 0.50), "answer-ratio-p50")
	b.ReportMetric(pct(answerRatio, 0.95), "answer-ratio-p95")
	b.Logf("start ms %v", start)
	b.Logf("floor ms %v", floor)
	b.Logf("answer ms %v", answer)
	b.Logf("floor answer ms %v", floorAnswer)
}

// pollChat sends the agent protocol's POST /chat to the agent on host
// port every 5 ms until it answers 200.
func pollChat(c *http.Client, port int, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/chat", port)
	body := []byte(`{"content":"hello","role":"user"}`)
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Post(url, "application/json", bytes.NewReader(body))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent on port %d did not answer within %s: %v", port, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
