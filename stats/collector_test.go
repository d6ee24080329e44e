package stats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/broker"
)

// fakeStreamer serves stats streams from channels a test feeds: closing a
// container's channel is the container stopping.
type fakeStreamer struct {
	mu      sync.Mutex
	feeds   map[string]chan warder.Stats
	running []warder.WorkloadState
	open    int // streams open now
	opened  int // streams opened in all
}

func newFakeStreamer() *fakeStreamer { return &fakeStreamer{feeds: map[string]chan warder.Stats{}} }

// container makes a running container whose samples the test sends.
func (f *fakeStreamer) container(id string) chan warder.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan warder.Stats)
	f.feeds[id] = ch
	f.running = append(f.running, warder.WorkloadState{ID: id, Phase: warder.PhaseRunning})
	return ch
}

func (f *fakeStreamer) Parts() warder.RuntimeParts { return warder.RuntimeParts{Stats: f} }

func (f *fakeStreamer) Stats(context.Context, string) (warder.Stats, error) {
	return warder.Stats{}, warder.Errorf(warder.ErrConflict, "the collector streams")
}

func (f *fakeStreamer) StatsStream(ctx context.Context, id string, fn func(warder.Stats)) error {
	f.mu.Lock()
	ch, ok := f.feeds[id]
	if ok {
		f.open++
		f.opened++
	}
	f.mu.Unlock()
	if !ok {
		return warder.Errorf(warder.ErrNotFound, "no such container")
	}
	defer func() { f.mu.Lock(); f.open--; f.mu.Unlock() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s, ok := <-ch:
			if !ok {
				return warder.Errorf(warder.ErrConflict, "not running")
			}
			fn(s)
		}
	}
}

func (f *fakeStreamer) Running(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, st := range f.running {
		ids = append(ids, st.ID)
	}
	return ids, nil
}

func (f *fakeStreamer) counts() (open, opened int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open, f.opened
}

// startCollector runs a collector until the test ends, and checks then
// that every stream was released.
func startCollector(t *testing.T, rt *fakeStreamer, bus warder.EventBus) *Collector {
	t.Helper()
	return startCollectorWith(t, rt, bus, Config{FollowAll: true})
}

// startCollectorWith runs a collector of cfg, with the tests' Keep,
// SyncEvery (an hour: tests call Sync) and FirstSample.
func startCollectorWith(t *testing.T, rt *fakeStreamer, bus warder.EventBus, cfg Config) *Collector {
	t.Helper()
	cfg.Keep, cfg.SyncEvery, cfg.FirstSample = time.Minute, time.Hour, 2*time.Second
	c := New(rt, bus, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.ctx != nil })
	t.Cleanup(func() {
		cancel()
		<-done
		if open, _ := rt.counts(); open != 0 {
			t.Errorf("%d streams still open after Run returned", open)
		}
	})
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sample(cpu float64) warder.Stats { return warder.Stats{CPUPercent: cpu, ReadAt: time.Now()} }

func TestCollectorLatestAndWatch(t *testing.T) {
	rt := newFakeStreamer()
	c := startCollector(t, rt, nil)
	ctx := context.Background()
	feed := rt.container("c1")

	// The first read starts the stream and waits for its first sample.
	got := make(chan warder.Stats)
	go func() { s, _ := c.Latest(ctx, "c1"); got <- s }()
	feed <- sample(1)
	if s := <-got; s.CPUPercent != 1 {
		t.Fatalf("Latest = %v, want 1", s.CPUPercent)
	}
	feed <- sample(2)
	waitFor(t, func() bool { s, _ := c.Latest(ctx, "c1"); return s.CPUPercent == 2 })

	// A watcher gets the newest sample at once, then each new one.
	seen := make(chan float64, 10)
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- c.Watch(ctx, "c1", func(s warder.Stats) error { seen <- s.CPUPercent; return nil })
	}()
	if v := <-seen; v != 2 {
		t.Fatalf("watch began with %v, want 2", v)
	}
	feed <- sample(3)
	if v := <-seen; v != 3 {
		t.Fatalf("watch got %v, want 3", v)
	}
	hist, err := c.History(ctx, "c1", time.Now().Add(-time.Minute))
	if err != nil || len(hist) != 3 || hist[0].CPUPercent != 1 || hist[2].CPUPercent != 3 {
		t.Fatalf("History = %v, %v", hist, err)
	}
	if _, err := c.History(ctx, "c1", time.Now().Add(-time.Hour)); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("History beyond Keep = %v, want ErrInvalid", err)
	}

	// The container stops: the watcher ends with ErrConflict, and so do reads.
	close(feed)
	if err := <-watchErr; !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("Watch after stop = %v, want ErrConflict", err)
	}
	if _, err := c.Latest(ctx, "c1"); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("Latest after stop = %v, want ErrConflict", err)
	}
	waitFor(t, func() bool { return c.Followed() == 0 })

	// A watcher whose fn fails ends with that error.
	boom := errors.New("client gone")
	feed2 := rt.container("c2")
	go func() { feed2 <- sample(5) }()
	if err := c.Watch(ctx, "c2", func(warder.Stats) error { return boom }); err != boom {
		t.Fatalf("Watch with failing fn = %v", err)
	}
	if _, err := c.Latest(ctx, "nope"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Latest of an unknown container = %v, want ErrNotFound", err)
	}
}

func TestCollectorFollowsStatusChanges(t *testing.T) {
	rt := newFakeStreamer()
	bus := broker.New(0)
	c := startCollector(t, rt, bus)
	rt.container("c1")
	bus.Publish(warder.StatusChange{ContainerID: "c1", To: warder.StatusRunning})
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 1 && c.Followed() == 1 })
	bus.Publish(warder.StatusChange{ContainerID: "c1", To: warder.StatusStopping}) // still running
	bus.Publish(warder.StatusChange{ContainerID: "c1", To: warder.StatusStopped})
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 0 && c.Followed() == 0 })
}

func TestCollectorSync(t *testing.T) {
	rt := newFakeStreamer()
	c := startCollector(t, rt, nil)
	rt.container("c1")
	rt.container("c2")
	c.Sync(context.Background())
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 2 })
	rt.mu.Lock()
	rt.running = rt.running[:1] // c2 stopped behind everyone's back
	rt.mu.Unlock()
	c.Sync(context.Background())
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 1 && c.Followed() == 1 })
	if _, opened := rt.counts(); opened != 2 {
		t.Fatalf("%d streams opened, want 2: a sync must not reopen a followed container", opened)
	}
}

func TestCollectorNotRunning(t *testing.T) {
	c := New(newFakeStreamer(), nil, Config{})
	if _, err := c.Latest(context.Background(), "c1"); !errors.Is(err, warder.ErrUnavailable) {
		t.Fatalf("Latest before Run = %v, want ErrUnavailable", err)
	}
}

// TestCollectorRestartAndShutdown: a container stopped and started again
// at once gets a fresh stream, and watchers learn when the collector stops.
func TestCollectorRestartAndShutdown(t *testing.T) {
	rt := newFakeStreamer()
	c := New(rt, nil, Config{SyncEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.ctx != nil })
	feed := rt.container("c1")
	go func() { feed <- sample(1) }()
	if _, err := c.Latest(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	c.Stop("c1")
	watchErr := make(chan error, 1)
	go func() { watchErr <- c.Watch(context.Background(), "c1", func(warder.Stats) error { return nil }) }()
	waitFor(t, func() bool { _, opened := rt.counts(); return opened == 2 })
	select {
	case err := <-watchErr:
		t.Fatalf("a watcher joined the stopped stream and ended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	<-done
	if err := <-watchErr; !errors.Is(err, warder.ErrUnavailable) {
		t.Fatalf("watcher at shutdown = %v, want ErrUnavailable", err)
	}
	if open, _ := rt.counts(); open != 0 {
		t.Fatalf("%d streams open after Run returned", open)
	}
}

// TestCollectorFollowsOnRead: by default a container is followed from its
// first read, not from its start, and let go once nobody has read or
// watched it for Idle.
func TestCollectorFollowsOnRead(t *testing.T) {
	rt := newFakeStreamer()
	bus := broker.New(0)
	const idle = 50 * time.Millisecond
	c := startCollectorWith(t, rt, bus, Config{Idle: idle})
	ctx := context.Background()
	feed1, feed2 := rt.container("c1"), rt.container("c2")
	go func() { feed2 <- sample(1) }()
	if _, err := c.Latest(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	// c1 starts, then c2 stops: once c2's stop is handled, so was c1's
	// start (the events come in order), and it opened no stream.
	bus.Publish(warder.StatusChange{ContainerID: "c1", To: warder.StatusRunning})
	bus.Publish(warder.StatusChange{ContainerID: "c2", To: warder.StatusStopped})
	waitFor(t, func() bool { return c.Followed() == 0 })
	c.Sync(ctx)
	if open, opened := rt.counts(); open != 0 || opened != 1 {
		t.Fatalf("%d streams open, %d opened; want 0 and 1: only a read opens one", open, opened)
	}

	// A read follows c1; it is let go after Idle without a reader.
	go func() { feed1 <- sample(2) }()
	if s, err := c.Latest(ctx, "c1"); err != nil || s.CPUPercent != 2 {
		t.Fatalf("Latest = %v, %v", s, err)
	}
	time.Sleep(2 * idle)
	c.Sync(ctx)
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 0 && c.Followed() == 0 })

	// A watcher keeps it followed however long it watches; its leaving
	// starts the idle time.
	watching, stopWatch := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() { watched <- c.Watch(watching, "c1", func(warder.Stats) error { return nil }) }()
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 1 })
	feed1 <- sample(3)
	time.Sleep(2 * idle)
	c.Sync(ctx)
	if c.Followed() != 1 {
		t.Fatal("a watched container was let go")
	}
	stopWatch()
	<-watched
	c.Sync(ctx)
	if c.Followed() != 1 {
		t.Fatal("let go at once when its watcher left, not after Idle")
	}
	time.Sleep(2 * idle)
	c.Sync(ctx)
	waitFor(t, func() bool { open, _ := rt.counts(); return open == 0 && c.Followed() == 0 })
}
