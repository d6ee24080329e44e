// Package runtimetest is the conformance suite every warder.Runtime
// passes, and Fake, the in-memory runtime the service's tests use, which
// passes it too, so it cannot drift from the real ones.
//
// The suite drives a runtime through its contract (warder.Runtime's doc
// comment) with workloads that behave as the default agent image does:
// they log "warder-agent starting" when they start, answer on their port,
// and, given WARDER_AGENT_EXIT_CODE=N and WARDER_AGENT_EXIT_AFTER=d, log
// "warder-agent exiting with code N" and exit with N after d.
package runtimetest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

// Harness is what the suite needs of a backend.
type Harness struct {
	// Runtime is the runtime under test, Setup already done.
	Runtime warder.Runtime
	// Spec returns the spec of a new workload with a unique name and agent
	// id, of an image that behaves as the package comment says; the
	// harness removes it when the test ends.
	Spec func(t *testing.T) warder.WorkloadSpec
	// Within is how long the backend may take to show a change (an exit,
	// an event); 0 means 30 s.
	Within time.Duration
}

// Run runs every conformance test against h.
func Run(t *testing.T, h Harness) {
	if h.Within == 0 {
		h.Within = 30 * time.Second
	}
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, h) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, h) })
	t.Run("ReplaceLeftover", func(t *testing.T) { testReplaceLeftover(t, h) })
	t.Run("List", func(t *testing.T) { testList(t, h) })
	t.Run("Events", func(t *testing.T) { testEvents(t, h) })
	t.Run("ExitAndLogs", func(t *testing.T) { testExitAndLogs(t, h) })
	t.Run("Stats", func(t *testing.T) { testStats(t, h) })
	t.Run("Publish", func(t *testing.T) { testPublish(t, h) })
	t.Run("Parts", func(t *testing.T) { testParts(t, h) })
	if p := h.Runtime.Parts(); p.Workspaces != nil && p.Files != nil {
		t.Run("Workspace", func(t *testing.T) { testWorkspace(t, h) })
	}
	if h.Runtime.Parts().Exec != nil {
		t.Run("Exec", func(t *testing.T) { testExec(t, h) })
	}
	if h.Runtime.Parts().Pause != nil {
		t.Run("Pause", func(t *testing.T) { testPause(t, h) })
	}
}

// testPause: a paused workload is PhasePaused with the endpoint and host
// port it had (twice is fine); resumed, it runs there again (twice is
// fine); a workload that is not running cannot be paused or resumed; a
// paused one can be stopped.
func testPause(t *testing.T, h Harness) {
	ctx, rt, pr := context.Background(), h.Runtime, h.Runtime.Parts().Pause
	id, err := rt.Create(ctx, h.Spec(t))
	must(t, err)
	if err := pr.Pause(ctx, id); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("Pause of a workload never started = %v, want ErrConflict", err)
	}
	started, err := rt.Start(ctx, id)
	must(t, err)
	must(t, pr.Pause(ctx, id))
	must(t, pr.Pause(ctx, id))
	st := inspect(t, h, id)
	if st.Phase != warder.PhasePaused || st.Running() || st.Endpoint != started.Endpoint || st.HostPort != started.HostPort {
		t.Fatalf("after Pause: %+v; started as %+v", st, started)
	}
	must(t, pr.Resume(ctx, id))
	must(t, pr.Resume(ctx, id))
	st = inspect(t, h, id)
	if !st.Running() || st.Endpoint != started.Endpoint || st.HostPort != started.HostPort || st.RestartCount != started.RestartCount {
		t.Fatalf("after Resume: %+v; started as %+v", st, started)
	}
	must(t, pr.Pause(ctx, id))
	must(t, rt.Stop(ctx, id, time.Second))
	if st := waitState(t, h, id, func(s warder.WorkloadState) bool { return s.Phase == warder.PhaseExited }); st.Endpoint != "" {
		t.Fatalf("a paused workload stopped: %+v", st)
	}
	if err := pr.Resume(ctx, id); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("Resume of a stopped workload = %v, want ErrConflict", err)
	}
	must(t, rt.Remove(ctx, id))
	if err := pr.Pause(ctx, id); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Pause of a removed workload = %v, want ErrNotFound", err)
	}
	// A paused workload can be removed as it is (an agent deleted while
	// paused).
	id, err = rt.Create(ctx, h.Spec(t))
	must(t, err)
	_, err = rt.Start(ctx, id)
	must(t, err)
	must(t, pr.Pause(ctx, id))
	must(t, rt.Remove(ctx, id))
	if _, err := rt.Inspect(ctx, id); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Inspect of a paused workload removed = %v, want ErrNotFound", err)
	}
}

// testParts: the optional parts come as the contract says: workspaces
// and files together or neither, and asking twice gives the same answer
// (Parts never contacts the backend).
func testParts(t *testing.T, h Harness) {
	p, again := h.Runtime.Parts(), h.Runtime.Parts()
	if (p.Workspaces == nil) != (p.Files == nil) {
		t.Fatalf("workspaces without files, or the reverse: %+v", p)
	}
	if (p.Workspaces == nil) != (again.Workspaces == nil) || (p.Exec == nil) != (again.Exec == nil) ||
		(p.Stats == nil) != (again.Stats == nil) || (p.WarmPool == nil) != (again.WarmPool == nil) || (p.Pause == nil) != (again.Pause == nil) {
		t.Fatalf("Parts changed between two calls: %+v then %+v", p, again)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func inspect(t *testing.T, h Harness, id string) warder.WorkloadState {
	t.Helper()
	st, err := h.Runtime.Inspect(context.Background(), id)
	must(t, err)
	return st
}

// waitState polls Inspect until ok holds, for up to h.Within.
func waitState(t *testing.T, h Harness, id string, ok func(warder.WorkloadState) bool) warder.WorkloadState {
	t.Helper()
	deadline := time.Now().Add(h.Within)
	for {
		st := inspect(t, h, id)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("workload %s did not reach the expected state within %s: %+v", id, h.Within, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Create → created; Start → running with an endpoint (twice is fine);
// Stop → exited without one (twice is fine); Remove → gone (twice is fine).
func testLifecycle(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	spec := h.Spec(t)
	id, err := rt.Create(ctx, spec)
	must(t, err)
	if st := inspect(t, h, id); st.Phase != warder.PhaseCreated || st.Running() || st.AgentID != spec.AgentID || st.Name != spec.Name || st.Endpoint != "" {
		t.Fatalf("after Create: %+v", st)
	}
	started, err := rt.Start(ctx, id)
	must(t, err)
	// What Start reports is the state reached, as Inspect tells it.
	if !started.Running() || started.ID != id || started.Endpoint == "" || started.StartedAt.IsZero() {
		t.Fatalf("Start reported %+v: want the workload running, with its endpoint and start time", started)
	}
	again, err := rt.Start(ctx, id)
	must(t, err)
	if !again.Running() || again.Endpoint != started.Endpoint {
		t.Fatalf("a second Start reported %+v, after %+v", again, started)
	}
	st := waitState(t, h, id, warder.WorkloadState.Running)
	if st.Endpoint != started.Endpoint || st.HostPort != started.HostPort || !st.StartedAt.Equal(started.StartedAt) {
		t.Fatalf("Inspect says %+v, Start said %+v", st, started)
	}
	must(t, rt.Stop(ctx, id, 5*time.Second))
	must(t, rt.Stop(ctx, id, 5*time.Second))
	if st := inspect(t, h, id); st.Phase != warder.PhaseExited || st.Endpoint != "" {
		t.Fatalf("after Stop: %+v", st)
	}
	must(t, rt.Remove(ctx, id))
	must(t, rt.Remove(ctx, id))
	if _, err := rt.Inspect(ctx, id); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Inspect after Remove = %v, want ErrNotFound", err)
	}
}

// Every call on a workload that does not exist is ErrNotFound, but Remove,
// which succeeds.
func testNotFound(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	const id = "no-such-workload-0000"
	for name, err := range map[string]error{
		"Start":   func() error { _, err := rt.Start(ctx, id); return err }(),
		"Stop":    rt.Stop(ctx, id, time.Second),
		"Inspect": func() error { _, err := rt.Inspect(ctx, id); return err }(),
		"Logs":    func() error { _, err := warder.CollectLogs(ctx, rt, id, warder.LogOptions{}); return err }(),
	} {
		if !errors.Is(err, warder.ErrNotFound) {
			t.Errorf("%s of a missing workload = %v, want ErrNotFound", name, err)
		}
	}
	if err := rt.Remove(ctx, id); err != nil {
		t.Errorf("Remove of a missing workload = %v, want success", err)
	}
}

// A second Create of the same spec replaces the first workload, as after
// a create whose id was never saved.
func testReplaceLeftover(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	spec := h.Spec(t)
	first, err := rt.Create(ctx, spec)
	must(t, err)
	second, err := rt.Create(ctx, spec)
	must(t, err)
	if first == second {
		t.Fatalf("the second Create returned the first id %s", first)
	}
	if _, err := rt.Inspect(ctx, first); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("the leftover %s is still there: %v", first, err)
	}
	inspect(t, h, second)
	// Remove by name, as for a create whose id was lost.
	must(t, rt.Remove(ctx, spec.Name))
	if _, err := rt.Inspect(ctx, second); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Remove by name left %s: %v", second, err)
	}
}

// List reports this deployment's workloads, running or not.
func testList(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	a, b := h.Spec(t), h.Spec(t)
	ida, err := rt.Create(ctx, a)
	must(t, err)
	idb, err := rt.Create(ctx, b)
	must(t, err)
	_, err = rt.Start(ctx, idb)
	must(t, err)
	waitState(t, h, idb, warder.WorkloadState.Running)
	all, err := rt.List(ctx)
	must(t, err)
	got := map[string]warder.WorkloadState{}
	for _, st := range all {
		got[st.ID] = st
	}
	if st := got[ida]; st.AgentID != a.AgentID || st.Phase != warder.PhaseCreated {
		t.Errorf("List: created workload = %+v", st)
	}
	if st := got[idb]; st.AgentID != b.AgentID || !st.Running() {
		t.Errorf("List: running workload = %+v", st)
	}
	// Running names the running one and not the created one.
	ids, err := rt.Running(ctx)
	must(t, err)
	if !slices.Contains(ids, idb) || slices.Contains(ids, ida) {
		t.Errorf("Running = %v, want %s and not %s", ids, idb, ida)
	}
	must(t, rt.Stop(ctx, idb, 10*time.Second))
	if ids, err = rt.Running(ctx); err != nil || slices.Contains(ids, idb) {
		t.Errorf("Running after a stop = %v, %v; want no %s", ids, err, idb)
	}
}

// events collects what Events delivers.
type events struct {
	mu  sync.Mutex
	got []warder.WorkloadEvent
}

func (e *events) add(ev warder.WorkloadEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// kinds lists the kinds of id's events so far, in order.
func (e *events) kinds(id string) []warder.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []warder.EventKind
	for _, ev := range e.got {
		if ev.ContainerID == id {
			out = append(out, ev.Kind)
		}
	}
	return out
}

// Events calls ready, then reports start, exit and removal of a workload
// in that order, with its agent id, and returns ctx.Err() when ctx ends.
func testEvents(t *testing.T, h Harness) {
	rt := h.Runtime
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	var ev events
	go func() { done <- rt.Events(ctx, func() { close(ready) }, ev.add) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Events ended before ready: %v", err)
	case <-time.After(h.Within):
		cancel()
		t.Fatal("Events never called ready")
	}
	spec := h.Spec(t)
	id, err := rt.Create(context.Background(), spec)
	must(t, err)
	_, err = rt.Start(context.Background(), id)
	must(t, err)
	must(t, rt.Stop(context.Background(), id, 5*time.Second))
	must(t, rt.Remove(context.Background(), id))
	want := []warder.EventKind{warder.EventStarted, warder.EventExited, warder.EventRemoved}
	deadline := time.Now().Add(h.Within)
	for !containsInOrder(ev.kinds(id), want) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("events of %s: %v, want %v in that order", id, ev.kinds(id), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ev.mu.Lock()
	for _, e := range ev.got {
		if e.ContainerID == id && e.AgentID != spec.AgentID {
			t.Errorf("event %s carries agent %q, want %q", e.Kind, e.AgentID, spec.AgentID)
		}
	}
	ev.mu.Unlock()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Events after its context ended = %v, want context.Canceled", err)
		}
	case <-time.After(h.Within):
		t.Error("Events did not return after its context ended")
	}
}

// containsInOrder reports whether want appears in got as a subsequence.
func containsInOrder(got, want []warder.EventKind) bool {
	i := 0
	for _, k := range got {
		if i < len(want) && k == want[i] {
			i++
		}
	}
	return i == len(want)
}

// A workload that exits on its own is exited with its code, and its
// output, start to end, is in Logs and StreamLogs.
func testExitAndLogs(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	spec := h.Spec(t)
	spec.Env["WARDER_AGENT_EXIT_CODE"], spec.Env["WARDER_AGENT_EXIT_AFTER"] = "3", "200ms"
	id, err := rt.Create(ctx, spec)
	must(t, err)
	_, err = rt.Start(ctx, id)
	must(t, err)
	st := waitState(t, h, id, func(st warder.WorkloadState) bool { return st.Phase == warder.PhaseExited })
	if st.ExitCode != 3 || st.OOMKilled || st.Endpoint != "" {
		t.Fatalf("after exiting with code 3: %+v", st)
	}
	logs, err := warder.CollectLogs(ctx, rt, id, warder.LogOptions{})
	must(t, err)
	for _, want := range []string{"warder-agent starting", "warder-agent exiting with code 3"} {
		if !strings.Contains(logs, want) {
			t.Errorf("Logs lack %q:\n%s", want, logs)
		}
	}
	var lines []string
	must(t, rt.StreamLogs(ctx, id, warder.LogOptions{}, func(l warder.LogLine) error {
		lines = append(lines, l.Text)
		return nil
	}))
	if joined := strings.Join(lines, "\n"); !strings.Contains(joined, "warder-agent exiting with code 3") {
		t.Errorf("StreamLogs lack the exit line:\n%s", joined)
	}
	if _, err := rt.Stats(ctx, id); !errors.Is(err, warder.ErrConflict) {
		t.Errorf("Stats of an exited workload = %v, want ErrConflict", err)
	}
}

// Stats of a running workload reports its memory limit.
func testStats(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	spec := h.Spec(t)
	id, err := rt.Create(ctx, spec)
	must(t, err)
	_, err = rt.Start(ctx, id)
	must(t, err)
	waitState(t, h, id, warder.WorkloadState.Running)
	s, err := rt.Stats(ctx, id)
	must(t, err)
	if spec.MemoryBytes != 0 && s.MemoryLimitBytes != uint64(spec.MemoryBytes) {
		t.Errorf("memory limit %d, want %d", s.MemoryLimitBytes, spec.MemoryBytes)
	}
	ss := rt.Parts().Stats
	if ss == nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, h.Within)
	defer cancel()
	var once sync.Once
	err = ss.StatsStream(sctx, id, func(warder.Stats) { once.Do(cancel) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("StatsStream = %v, want a sample, then context.Canceled", err)
	}
}

// A runtime with host ports publishes a Publish spec on one from its
// range and gives it up on Remove; one without publishes nothing.
func testPublish(t *testing.T, h Harness) {
	ctx, rt := context.Background(), h.Runtime
	info := rt.Info()
	spec := h.Spec(t)
	spec.Publish = true
	id, err := rt.Create(ctx, spec)
	must(t, err)
	st := inspect(t, h, id)
	if !info.HostPorts {
		if st.HostPort != 0 {
			t.Fatalf("a runtime without host ports published %d", st.HostPort)
		}
		return
	}
	if st.HostPort == 0 {
		t.Fatalf("a published workload has no host port: %+v", st)
	}
	unpublished := h.Spec(t)
	unpublished.Publish = false
	uid, err := rt.Create(ctx, unpublished)
	must(t, err)
	if st := inspect(t, h, uid); st.HostPort != 0 {
		t.Fatalf("an unpublished workload has host port %d", st.HostPort)
	}
}

// AgentSpec makes an agent of owner in store (host-port claims belong to
// agents there) running image with 64 MiB and a quarter CPU, and returns
// its spec. Removing the workload is the harness's.
func AgentSpec(t *testing.T, store warder.AgentStore, ownerID, image string, s warder.SpecSettings) warder.WorkloadSpec {
	t.Helper()
	a := &warder.Agent{UserID: ownerID, Name: "conformance-" + strconv.FormatInt(time.Now().UnixNano(), 36), Type: "test",
		ContainerConfig: warder.ContainerConfig{Image: image, MemoryLimit: "64m", CPULimit: 0.25}}
	must(t, warder.NormalizeConfig(&a.ContainerConfig, image))
	must(t, store.CreateAgent(context.Background(), a))
	spec, err := warder.SpecFor(a, s)
	must(t, err)
	return spec
}
