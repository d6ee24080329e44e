package docker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

// eventWatch records what one Events call delivers.
type eventWatch struct {
	mu     sync.Mutex
	events []warder.WorkloadEvent
	done   chan error // Events' result
}

// watchEvents runs r.Events until the test ends, returning once ready has
// been called. Cleanup checks that Events ends with ctx.Err().
func watchEvents(t *testing.T, r *Runtime) *eventWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, ready := startWatch(ctx, r)
	select {
	case <-ready:
	case err := <-w.done:
		cancel()
		t.Fatalf("Events returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("Events did not call ready within 30 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-w.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Events after cancel = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Events did not return within 10 s of its context's end")
		}
	})
	return w
}

// startWatch runs r.Events in a goroutine; ready is closed when Events
// calls ready (twice would panic).
func startWatch(ctx context.Context, r *Runtime) (w *eventWatch, ready chan struct{}) {
	w = &eventWatch{done: make(chan error, 1)}
	ready = make(chan struct{})
	go func() { w.done <- r.Events(ctx, func() { close(ready) }, w.add) }()
	return w, ready
}

func (w *eventWatch) add(ev warder.WorkloadEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, ev)
}

// of returns the events delivered so far for container id.
func (w *eventWatch) of(id string) []warder.WorkloadEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []warder.WorkloadEvent
	for _, ev := range w.events {
		if ev.ContainerID == id {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor waits up to timeout for an event action of container id and
// returns the first such.
func (w *eventWatch) waitFor(t *testing.T, id string, action warder.EventKind, timeout time.Duration) warder.WorkloadEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range w.of(id) {
			if ev.Kind == action {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q event for %s within %v; got %+v", action, id, timeout, w.of(id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count is how many action events container id has had.
func (w *eventWatch) count(id string, action warder.EventKind) int {
	n := 0
	for _, ev := range w.of(id) {
		if ev.Kind == action {
			n++
		}
	}
	return n
}

// waitState polls Inspect until ok accepts the state, for up to timeout.
func waitState(t *testing.T, r *Runtime, id string, timeout time.Duration, ok func(warder.WorkloadState) bool) warder.WorkloadState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := r.Inspect(context.Background(), id)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s did not reach the expected state within %v: %+v", id, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
