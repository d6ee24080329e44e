package bench

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/e2etest"
)

// BenchmarkResumeOnRequest measures a chat sent to a paused agent, which
// Warder resumes first, against the engine's floor, pair by pair on the
// same engine (30 pairs, or WARDER_BENCH_STARTS):
//
//   - resume: POST /api/agents/{id}/chat to a paused agent until it has
//     answered (Warder resumes it, records it running, and forwards the
//     chat);
//   - floor: the same WorkloadSpec run directly through the Engine API
//     (docker.Runtime) under another name and port, paused by the engine,
//     then the engine's unpause followed by the agent's own POST /chat on
//     its port.
//
// Each pair pauses both (not timed) and alternates which side goes first.
// Beside them it reports the engine's unpause alone, so the ratio's
// floor is visible.
//
//	go test -run '^$' -bench BenchmarkResumeOnRequest -benchtime 1x -timeout 30m ./bench/
func BenchmarkResumeOnRequest(b *testing.B) {
	n := benchStarts(30)
	ts := e2etest.NewServer(b, nil)
	bc := benchLogin(b, ts.URL)
	ctx := context.Background()

	var a struct {
		ID string `json:"id"`
	}
	bc.call(b, "POST", "/api/agents", map[string]any{"name": "resume",
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}}, 201, &a)
	bc.call(b, "POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	bc.call(b, "POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)
	// An agent paused after a while of use has answered Warder's health
	// probes (every 10 s): wait for that, as for the real case.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var ag struct {
			Health string `json:"health"`
		}
		bc.call(b, "GET", "/api/agents/"+a.ID, nil, 200, &ag)
		if ag.Health == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the agent is not healthy after 30 s: %q", ag.Health)
		}
	}
	floorPort := ts.Config.PortEnd + 100
	rt, spec := floorOf(b, ts, a.ID, floorPort, "warder-bench-floor")
	cid, err := rt.Create(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Remove(context.Background(), cid) })
	if _, err := rt.Start(ctx, cid); err != nil {
		b.Fatal(err)
	}
	if err := pollChat(bc.http, floorPort, 30*time.Second); err != nil {
		b.Fatal(err)
	}

	var resume, floor, unpause, ratio []float64
	for i := -1; i < n; i++ {
		bc.call(b, "POST", "/api/agents/"+a.ID+"/pause", nil, 200, nil)
		if err := rt.Pause(ctx, cid); err != nil {
			b.Fatal(err)
		}
		var dResume, dFloor, dUnpause time.Duration
		warderSide := func() {
			t0 := time.Now()
			bc.call(b, "POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)
			dResume = time.Since(t0)
		}
		floorSide := func() {
			t0 := time.Now()
			if err := rt.Resume(ctx, cid); err != nil {
				b.Fatal(err)
			}
			dUnpause = time.Since(t0)
			if err := pollChat(bc.http, floorPort, 30*time.Second); err != nil {
				b.Fatal(err)
			}
			dFloor = time.Since(t0)
		}
		if i%2 == 0 {
			warderSide()
			floorSide()
		} else {
			floorSide()
			warderSide()
		}
		if i < 0 {
			continue // the warm-up
		}
		resume, floor, unpause = append(resume, ms(dResume)), append(floor, ms(dFloor)), append(unpause, ms(dUnpause))
		ratio = append(ratio, float64(dResume)/float64(dFloor))
	}
	b.ReportMetric(pct(resume, 0.50), "resume-p50-ms")
	b.ReportMetric(pct(resume, 0.95), "resume-p95-ms")
	b.ReportMetric(pct(floor, 0.50), "floor-p50-ms")
	b.ReportMetric(pct(unpause, 0.50), "unpause-p50-ms")
	b.ReportMetric(pct(ratio, 0.50), "ratio-p50")
	b.ReportMetric(pct(ratio, 0.95), "ratio-p95")
	b.Logf("resume ms %v", resume)
	b.Logf("floor ms %v", floor)
	b.Logf("unpause ms %v", unpause)
}
