package service

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
)

// counted is a store and a runtime that count the calls made to them, by
// method: what one operation costs, in docs/architecture.md's table.
type counted struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *counted) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[name]++
}

func (c *counted) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

type countingStore struct {
	warder.Store
	c *counted
}

func (s countingStore) UpdateAgent(ctx context.Context, a *warder.Agent) error {
	s.c.add("store.UpdateAgent")
	return s.Store.UpdateAgent(ctx, a)
}

func (s countingStore) RecordStatus(ctx context.Context, a *warder.Agent, ev *warder.AgentEvent) error {
	s.c.add("store.RecordStatus")
	return s.Store.RecordStatus(ctx, a, ev)
}

func (s countingStore) TouchAgent(ctx context.Context, id string, at time.Time) error {
	s.c.add("store.TouchAgent")
	return s.Store.TouchAgent(ctx, id, at)
}

type countingRuntime struct {
	*runtimetest.Fake
	c *counted
}

func (r countingRuntime) Create(ctx context.Context, spec warder.WorkloadSpec) (string, error) {
	r.c.add("runtime.Create")
	return r.Fake.Create(ctx, spec)
}

func (r countingRuntime) Start(ctx context.Context, id string) (warder.WorkloadState, error) {
	r.c.add("runtime.Start")
	return r.Fake.Start(ctx, id)
}

func (r countingRuntime) Inspect(ctx context.Context, id string) (warder.WorkloadState, error) {
	r.c.add("runtime.Inspect")
	return r.Fake.Inspect(ctx, id)
}

func (r countingRuntime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	r.c.add("runtime.Stop")
	return r.Fake.Stop(ctx, id, timeout)
}

// TestColdStartCalls pins what a cold start costs: the store writes and
// runtime calls of POST /start for a new agent, with the runtime's own
// events about it reconciled by the watch. A change that adds a write or
// an inspect to the start path fails here, and says which.
func TestColdStartCalls(t *testing.T) {
	c := &counted{calls: map[string]int{}}
	var fake *runtimetest.Fake
	s, _ := newTestServiceOn(t, func(f *runtimetest.Fake) warder.Runtime {
		fake = f
		return countingRuntime{f, c}
	}, 10)
	s.Agents.store = countingStore{s.Agents.store, c}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan warder.WorkloadEvent, 16)
	opened := make(chan struct{})
	go fake.Events(ctx, func() { close(opened) }, func(ev warder.WorkloadEvent) { events <- ev })
	<-opened
	u := mustUser(t, s, "alice")
	a := mustAgent(t, s, u, "one")
	c.take()
	if _, err := s.Agents.StartAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	// The runtime's own events about the start, as the watch hands them
	// on, one at a time.
	for _, want := range []warder.EventKind{warder.EventCreated, warder.EventStarted} {
		select {
		case ev := <-events:
			if ev.Kind != want {
				t.Fatalf("event %s, want %s", ev.Kind, want)
			}
			deliver(ctx, s, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
	got := c.take()
	t.Logf("cold start: %v", got)
	writes := got["store.UpdateAgent"] + got["store.RecordStatus"] + got["store.TouchAgent"]
	if writes > 2 || got["runtime.Inspect"] > 0 || got["runtime.Create"] != 1 || got["runtime.Start"] != 1 {
		t.Errorf("a cold start made %d store writes and %v: want 2 writes (starting, running), one create, one start, no inspect", writes, got)
	}
}

// deliver hands ev to s as its watch does, and returns once it is dealt with.
func deliver(ctx context.Context, s *Service, ev warder.WorkloadEvent) {
	var reconciles sync.WaitGroup
	s.Observe.onEvent(ctx, ev, &reconciles)
	reconciles.Wait()
}
