package docker

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestEvents: changes made behind Warder's back (docker kill, docker rm)
// arrive as events of the labelled container, and nothing arrives about a
// container without Warder's label.
func TestEvents(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	w := watchEvents(t, r)

	spec := testSpec(t, r)
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	start := time.Now()
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ev := w.waitFor(t, id, warder.EventStarted, 10*time.Second)
	t.Logf("start event %v after Start was called", time.Since(start))
	if ev.AgentID != spec.Name {
		t.Errorf("start event = %+v, want AgentID %s", ev, spec.Name)
	}
	if d := ev.Time.Sub(start); d < -time.Second || d > 10*time.Second {
		t.Errorf("start event Time %v is %v from the Start call", ev.Time, d)
	}

	// A container without Warder's label, started and removed in the
	// middle: the stream is in order, so its events would show up before
	// the labelled container's later ones.
	foreign := testSpec(t, r)
	foreign.Labels, foreign.AgentID, foreign.Publish = nil, "", false
	fid, err := r.Create(ctx, foreign)
	if err != nil {
		t.Fatalf("Create without labels: %v", err)
	}
	if _, err := r.Start(ctx, fid); err != nil {
		t.Fatalf("Start without labels: %v", err)
	}

	start = time.Now()
	if _, err := r.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatalf("docker kill: %v", err)
	}
	w.waitFor(t, id, warder.EventChanged, 5*time.Second)
	w.waitFor(t, id, warder.EventExited, 5*time.Second)
	t.Logf("die event %v after docker kill", time.Since(start))
	if err := r.Remove(ctx, fid); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	if _, err := r.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatalf("docker rm: %v", err)
	}
	w.waitFor(t, id, warder.EventRemoved, 5*time.Second)
	t.Logf("destroy event %v after docker rm", time.Since(start))
	if evs := w.of(fid); len(evs) != 0 {
		t.Errorf("events of a container without %s: %+v", warder.LabelManaged, evs)
	}
	for _, ev := range w.of(id) {
		if ev.AgentID != spec.Name {
			t.Errorf("event %+v lacks AgentID %s", ev, spec.Name)
		}
	}
}

// TestEventsProxyCut: when the connection to the engine breaks, Events
// returns ErrUnavailable at once; while the engine is unreachable it
// fails without calling ready; once the engine is back it works again.
func TestEventsProxyCut(t *testing.T) {
	p := testenv.DockerProxy(t)
	r := newRuntime(t, func(c *Config) { c.Host = p.Host() })
	t.Cleanup(p.Restore) // before the runtime's own cleanup, which needs the engine
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	w, ready := startWatch(ctx, r)
	select {
	case <-ready:
	case err := <-w.done:
		t.Fatalf("Events through the proxy: %v", err)
	}
	spec := testSpec(t, r)
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	w.waitFor(t, id, warder.EventCreated, 10*time.Second)

	cut := time.Now()
	p.Cut()
	select {
	case err := <-w.done:
		t.Logf("Events returned %v after Cut: %v", time.Since(cut), err)
		if !errors.Is(err, warder.ErrUnavailable) {
			t.Errorf("Events after Cut = %v, want ErrUnavailable", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Events still running 1 s after Cut")
	}

	start := time.Now()
	err = r.Events(ctx, func() { t.Error("ready called while the engine is unreachable") }, func(warder.WorkloadEvent) {})
	if !errors.Is(err, warder.ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("Events while cut = %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}

	p.Restore()
	w, ready = startWatch(ctx, r)
	select {
	case <-ready:
	case err := <-w.done:
		t.Fatalf("Events after Restore: %v", err)
	}
	if err := r.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, id, warder.EventRemoved, 10*time.Second)
	cancel()
	if err := <-w.done; !errors.Is(err, context.Canceled) {
		t.Errorf("Events after cancel = %v, want context.Canceled", err)
	}
}

// TestEventsNoLeak: Events leaves no goroutine behind once it returns.
func TestEventsNoLeak(t *testing.T) {
	testenv.Docker(t)
	before := runtime.NumGoroutine()
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		w, ready := startWatch(ctx, r)
		select {
		case <-ready:
		case err := <-w.done:
			t.Fatalf("Events: %v", err)
		}
		cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Events after cancel = %v, want context.Canceled", err)
		}
	}
	r.Close() // the ping's idle connection
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Events returned, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
