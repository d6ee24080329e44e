package docker

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestList: List reports Warder's containers, running or not, with their
// agent, and leaves out containers without Warder's label.
func TestList(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	running, created, foreign := testSpec(t, r), testSpec(t, r), testSpec(t, r)
	foreign.Labels, foreign.AgentID, foreign.Publish = nil, "", false
	ids := map[string]string{} // name -> id
	for _, spec := range []warder.WorkloadSpec{running, created, foreign} {
		id, err := r.Create(ctx, spec)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		ids[spec.Name] = id
	}
	if _, err := r.Start(ctx, ids[running.Name]); err != nil {
		t.Fatalf("Start: %v", err)
	}

	start := time.Now()
	states, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	t.Logf("List of %d containers took %v", len(states), time.Since(start))
	got := map[string]warder.WorkloadState{}
	for _, st := range states {
		got[st.ID] = st
	}
	if st := got[ids[running.Name]]; st.Name != running.Name || st.AgentID != running.Name || !st.Running() || st.Phase != warder.PhaseRunning || st.StartedAt.IsZero() {
		t.Errorf("running container listed as %+v", st)
	}
	if st := got[ids[created.Name]]; st.Name != created.Name || st.AgentID != created.Name || st.Running() || st.Phase != warder.PhaseCreated || !st.StartedAt.IsZero() {
		t.Errorf("created container listed as %+v", st)
	}
	if st, ok := got[ids[foreign.Name]]; ok {
		t.Errorf("container without %s listed: %+v", warder.LabelManaged, st)
	}
}

// TestHealth: an image with a HEALTHCHECK of its own makes the engine
// report a running agent healthy, and the change arrives as an event; the
// default image has none (Warder probes it over the network), so the
// engine reports no health and runs no check in it.
func TestHealth(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	plain := testSpec(t, r)
	pid, err := r.Create(ctx, plain)
	must(t, err)
	must(t, started(r.Start(ctx, pid)))
	if st, err := r.Inspect(ctx, pid); err != nil || st.Health != "" {
		t.Errorf("default image: Inspect = %+v, %v; want no health of the engine's", st, err)
	}
	w := watchEvents(t, r)
	// The image first: cleanups run last-registered first, and the
	// container must go before its image.
	checked := derivedImage(t, r, `HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD ["/warder-agent","health"]`)
	spec := testSpec(t, r)
	spec.Image = checked
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	start := time.Now()
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if st, err := r.Inspect(ctx, id); err != nil || st.Health != "starting" {
		t.Errorf("Inspect right after Start = %+v, %v; want Health starting", st, err)
	}
	st := waitState(t, r, id, 60*time.Second, func(st warder.WorkloadState) bool { return st.Health == "healthy" })
	t.Logf("healthy %v after Start", time.Since(start))
	if !st.Running() {
		t.Errorf("Inspect = %+v, want running", st)
	}
	ev := w.waitFor(t, id, warder.EventHealth, 30*time.Second)
	if ev.AgentID != spec.Name {
		t.Errorf("health event %+v, want AgentID %s", ev, spec.Name)
	}
	for _, ev := range w.of(id) {
		if ev.Kind != warder.EventCreated && ev.Kind != warder.EventStarted && ev.Kind != warder.EventHealth {
			t.Errorf("unexpected event %+v (health probes must not show)", ev)
		}
	}
}
