package docker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestLifecycle drives one real agent container through every Runtime
// method, in the order Warder's service uses them.
func TestLifecycle(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Logf("warder-agent compiled in %v, image built in %v", agent.goBuild, agent.buildIn)
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	spec := testSpec(t, r)
	runLifecycle(ctx, t, r, spec, true)
}

// runLifecycle creates, starts, checks, stops and removes spec's container.
// full adds the slower checks (logs and stats).
func runLifecycle(ctx context.Context, t *testing.T, r *Runtime, spec warder.WorkloadSpec, full bool) {
	start := time.Now()
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("create+start took %v", time.Since(start))
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatalf("Start on a running container: %v", err)
	}
	st, err := r.Inspect(ctx, id)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if st.ID != id || st.Name != spec.Name || !st.Running() || st.Phase != warder.PhaseRunning {
		t.Fatalf("Inspect = %+v, want running %s named %s", st, id, spec.Name)
	}
	body := waitHealthy(t, r, id)
	t.Logf("healthy %v after create; /health = %s", time.Since(start), strings.TrimSpace(body))
	if !strings.Contains(body, `"agent_id":"`+spec.Name+`"`) {
		t.Errorf("/health = %s, want agent_id %s", body, spec.Name)
	}
	if full {
		checkLogs(ctx, t, r, id)
		checkStats(ctx, t, r, id, spec)
	}

	start = time.Now()
	if err := r.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %v: the agent ignored SIGTERM and waited for SIGKILL", d)
	} else {
		t.Logf("stop took %v", d)
	}
	if err := r.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatalf("Stop on a stopped container: %v", err)
	}
	st, err = r.Inspect(ctx, id)
	if err != nil || st.Running() || st.Phase != warder.PhaseExited || st.ExitCode != 0 {
		t.Fatalf("Inspect after Stop = %+v, %v; want exited with code 0", st, err)
	}
	if full {
		if _, err := r.Stats(ctx, id); !errors.Is(err, warder.ErrConflict) {
			t.Errorf("Stats on a stopped container = %v, want ErrConflict", err)
		}
	}
	if err := r.Remove(ctx, id); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := r.Remove(ctx, id); err != nil {
		t.Fatalf("Remove again: %v", err)
	}
	if _, err := r.Inspect(ctx, id); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Inspect after Remove = %v, want ErrNotFound", err)
	}
	if full {
		if _, err := warder.CollectLogs(ctx, r, id, warder.LogOptions{}); !errors.Is(err, warder.ErrNotFound) {
			t.Errorf("Logs after Remove = %v, want ErrNotFound", err)
		}
	}
}

func checkLogs(ctx context.Context, t *testing.T, r *Runtime, id string) {
	t.Helper()
	// Each request but a passed health check writes a line. The engine
	// writes a container's output to its log asynchronously: the line may
	// come a moment after the answer.
	resp, err := http.Get("http://" + endpointOf(t, r, id) + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var logs string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if logs, err = warder.CollectLogs(ctx, r, id, warder.LogOptions{}); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if strings.Contains(logs, "GET /nothing-here 404") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(logs, "warder-agent starting") || !strings.Contains(logs, "TEST_VAR") {
		t.Errorf("logs lack the start-up line or the env var name:\n%s", logs)
	}
	if strings.Contains(logs, "secret-value") {
		t.Errorf("logs leak an env value:\n%s", logs)
	}
	if !strings.Contains(logs, "GET /nothing-here 404") {
		t.Errorf("logs lack the request line:\n%s", logs)
	}
	last, err := warder.CollectLogs(ctx, r, id, warder.LogOptions{Lines: 1, Timestamps: true})
	if err != nil {
		t.Fatalf("Logs(Lines: 1): %v", err)
	}
	if n := strings.Count(last, "\n"); n != 1 || !strings.HasPrefix(last, time.Now().UTC().Format("2006-")) {
		t.Errorf("Logs(Lines: 1, Timestamps) = %q, want one timestamped line", last)
	}
}

func checkStats(ctx context.Context, t *testing.T, r *Runtime, id string, spec warder.WorkloadSpec) {
	t.Helper()
	// Keep the agent busy while the engine samples, so CPU use is above 0.
	busy, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		url := "http://" + endpointOf(t, r, id) + "/chat"
		for busy.Err() == nil {
			if resp, err := http.Post(url, "application/json", strings.NewReader(`{"content":"hi"}`)); err == nil {
				resp.Body.Close()
			}
		}
	}()
	before := time.Now()
	s, err := r.Stats(ctx, id)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	t.Logf("stats (took %v): %+v", time.Since(before), s)
	if s.CPUPercent <= 0 || s.MemoryBytes == 0 || s.Pids == 0 || s.NetworkRxBytes == 0 {
		t.Errorf("Stats = %+v, want CPU, memory, pids and network above 0", s)
	}
	if s.MemoryLimitBytes != uint64(spec.MemoryBytes) {
		t.Errorf("MemoryLimitBytes = %d, want the spec's %d", s.MemoryLimitBytes, spec.MemoryBytes)
	}
	if s.ReadAt.Before(before.Add(-time.Second)) || s.ReadAt.After(time.Now().Add(time.Second)) {
		t.Errorf("ReadAt = %v, want about now", s.ReadAt)
	}
}
