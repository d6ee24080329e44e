// Package stats keeps the resource use of running agent containers at
// hand: one engine stats stream per followed container, the newest sample
// and a ring of recent ones, so a read is a map lookup rather than the
// one to two seconds a per-request engine call takes. It implements
// warder.StatsReader.
//
// What is followed is the operator's choice (Config.FollowAll): every
// running container, so history reaches back for all of them; or, the
// default, a container from its first read until nobody has read or
// watched it for Config.Idle. An engine stream is not free: Docker spends
// several milliseconds of CPU on each sample of each container, a second
// apart, so following 1,000 idle agents would take more than a small
// machine's cores (docs/benchmarks.md).
package stats

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/warder/warder"
)

var _ warder.StatsReader = (*Collector)(nil)

// Streamer is what the collector needs of the runtime.
type Streamer interface {
	Parts() warder.RuntimeParts
	Stats(ctx context.Context, id string) (warder.Stats, error)
	Running(ctx context.Context) ([]string, error)
}

// Config tunes a Collector; zero fields take the defaults.
type Config struct {
	// Keep is how far back History reaches (default 10 minutes).
	Keep time.Duration
	// Interval is how often the engine samples (Docker: 1 s); with Keep it
	// sizes each container's ring.
	Interval time.Duration
	// SyncEvery is how often the containers followed are checked against
	// the runtime's running ones (default 10 s): status changes start and
	// stop streams at once, this catches what they cannot see (changes
	// recorded by another Warder process sharing the store).
	SyncEvery time.Duration
	// FirstSample bounds how long a read waits for a new stream's first
	// sample (default 10 s: with streams begun by reads, the first read of
	// an agent waits for one, and a loaded engine can take seconds).
	FirstSample time.Duration
	// FollowAll follows every running container from its start; else a
	// container is followed from its first read (Latest, History, Watch)
	// until it has had neither a read nor a watcher for Idle.
	FollowAll bool
	// Idle is how long an unread container stays followed when FollowAll
	// is off (default Keep, so a dashboard that looks now and then keeps
	// its history whole).
	Idle   time.Duration
	Logger *slog.Logger
}

// Collector follows running containers' stats. Create it with New, start
// it with Run; it is safe for concurrent use.
type Collector struct {
	rt     Streamer
	events warder.EventBus
	cfg    Config
	log    *slog.Logger

	mu    sync.Mutex
	ctx   context.Context // Run's; nil while Run is not running
	feeds map[string]*feed
	wg    sync.WaitGroup // one per feed goroutine
}

// feed is one container's stream and what it has delivered. Its fields
// other than first are guarded by Collector.mu.
type feed struct {
	id      string
	started time.Time
	cancel  context.CancelFunc
	ring    *Ring
	subs    map[chan warder.Stats]struct{}
	ended   bool
	read    time.Time     // the last read or watch
	err     error         // why it ended
	first   chan struct{} // closed at the first sample, or the end
	once    sync.Once
}

// errNotRunning is how a read learns the container stopped.
func errNotRunning() error {
	return warder.Errorf(warder.ErrConflict, "agent container is not running")
}

// New returns a Collector reading from rt. events, when not nil, starts
// and stops streams as agents start and stop.
func New(rt Streamer, events warder.EventBus, cfg Config) *Collector {
	if cfg.Keep <= 0 {
		cfg.Keep = 10 * time.Minute
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.SyncEvery <= 0 {
		cfg.SyncEvery = 10 * time.Second
	}
	if cfg.FirstSample <= 0 {
		cfg.FirstSample = 10 * time.Second
	}
	if cfg.Idle <= 0 {
		cfg.Idle = cfg.Keep
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Collector{rt: rt, events: events, cfg: cfg, log: cfg.Logger, feeds: map[string]*feed{}}
}

// Run follows containers until ctx ends, then stops every stream and
// waits for them to be released.
func (c *Collector) Run(ctx context.Context) {
	var changes <-chan warder.StatusChange
	if c.events != nil {
		ch, cancel := c.events.Subscribe()
		defer cancel()
		changes = ch
	}
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.ctx = nil
		for _, f := range c.feeds {
			f.cancel()
		}
		c.mu.Unlock()
		c.wg.Wait()
	}()
	c.Sync(ctx)
	t := time.NewTicker(c.cfg.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			c.statusChanged(ch)
		case <-t.C:
			c.Sync(ctx)
		}
	}
}

// statusChanged starts following a container that started and stops
// following one that stopped.
func (c *Collector) statusChanged(ch warder.StatusChange) {
	if ch.ContainerID == "" {
		return
	}
	switch ch.To {
	case warder.StatusRunning:
		if !c.cfg.FollowAll {
			return // followed once read
		}
		if _, err := c.ensure(ch.ContainerID, false); err != nil {
			c.log.Warn("following container stats", "container", ch.ContainerID, "err", err)
		}
	case warder.StatusStopped, warder.StatusExited, warder.StatusFailed, warder.StatusMissing, warder.StatusCreated, warder.StatusDeleted:
		c.Stop(ch.ContainerID)
	}
}

// Sync follows every running container of the runtime (when FollowAll)
// and stops following the rest, and containers nobody has read for Idle.
// A stream started after the list was taken is left alone.
func (c *Collector) Sync(ctx context.Context) {
	taken := time.Now()
	if !c.cfg.FollowAll && !c.expire(taken) {
		return // nothing followed: no need to ask the engine
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ids, err := c.rt.Running(lctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Debug("stats collector: listing containers", "err", err)
		}
		return
	}
	running := make(map[string]bool, len(ids))
	for _, id := range ids {
		running[id] = true
		if !c.cfg.FollowAll {
			continue
		}
		if _, err := c.ensure(id, false); err != nil {
			return
		}
	}
	c.mu.Lock()
	var stale []*feed
	for id, f := range c.feeds {
		if !running[id] && f.started.Before(taken) {
			stale = append(stale, f)
		}
	}
	c.mu.Unlock()
	for _, f := range stale {
		c.Stop(f.id)
	}
}

// expire stops following the containers nobody has read or watched for
// Idle, and reports whether any are still followed.
func (c *Collector) expire(now time.Time) bool {
	c.mu.Lock()
	var idle []string
	for id, f := range c.feeds {
		if len(f.subs) == 0 && now.Sub(f.read) > c.cfg.Idle {
			idle = append(idle, id)
		}
	}
	left := len(c.feeds) - len(idle)
	c.mu.Unlock()
	for _, id := range idle {
		c.Stop(id)
	}
	return left > 0
}

// Followed is how many containers are being followed.
func (c *Collector) Followed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.feeds)
}

// ensure returns the container's feed, starting one if there is none;
// read says a reader asks, which keeps the feed from going idle.
func (c *Collector) ensure(id string, read bool) (*feed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return nil, warder.Errorf(warder.ErrUnavailable, "the stats collector is not running")
	}
	if f := c.feeds[id]; f != nil {
		if read {
			f.read = time.Now()
		}
		return f, nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	f := &feed{
		id: id, started: time.Now(), read: time.Now(), cancel: cancel,
		ring:  NewRing(int(c.cfg.Keep/c.cfg.Interval) + 1),
		subs:  map[chan warder.Stats]struct{}{},
		first: make(chan struct{}),
	}
	c.feeds[id] = f
	c.wg.Add(1)
	go c.follow(c.ctx, ctx, f)
	return f, nil
}

// Stop stops following the container; its samples are dropped. A read
// right after starts a new stream rather than joining the ending one.
func (c *Collector) Stop(id string) {
	c.mu.Lock()
	f := c.feeds[id]
	delete(c.feeds, id)
	c.mu.Unlock()
	if f != nil {
		f.cancel()
	}
}

// follow runs one stream to its end; run is Run's context.
func (c *Collector) follow(run, ctx context.Context, f *feed) {
	defer c.wg.Done()
	var err error
	if ss := c.rt.Parts().Stats; ss != nil {
		err = ss.StatsStream(ctx, f.id, func(s warder.Stats) { c.record(f, s) })
	} else {
		err = c.poll(ctx, f)
	}
	switch {
	case run.Err() != nil:
		err = warder.Errorf(warder.ErrUnavailable, "the stats collector stopped")
	case err == nil || ctx.Err() != nil || errors.Is(err, warder.ErrConflict):
		err = errNotRunning()
	case !errors.Is(err, warder.ErrNotFound):
		c.log.Warn("container stats stream broke", "container", f.id, "err", err)
	}
	f.cancel()
	c.mu.Lock()
	f.ended, f.err = true, err
	if c.feeds[f.id] == f {
		delete(c.feeds, f.id)
	}
	for ch := range f.subs {
		close(ch)
	}
	f.subs = nil
	c.mu.Unlock()
	f.once.Do(func() { close(f.first) })
}

// poll stands in for StatsStream on a runtime without one: a sample each
// Interval, until ctx ends or a sample fails (a stopped agent is
// ErrConflict, as from a stream).
func (c *Collector) poll(ctx context.Context, f *feed) error {
	for {
		s, err := c.rt.Stats(ctx, f.id)
		if err != nil {
			return err
		}
		c.record(f, s)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.cfg.Interval):
		}
	}
}

// record keeps a sample and hands it to the watchers that have room.
func (c *Collector) record(f *feed, s warder.Stats) {
	c.mu.Lock()
	f.ring.Add(s)
	for ch := range f.subs {
		select {
		case ch <- s:
		default: // a watcher that fell behind skips a sample
		}
	}
	c.mu.Unlock()
	f.once.Do(func() { close(f.first) })
}

// started returns the container's feed once it has a sample or ended.
func (c *Collector) started(ctx context.Context, id string) (*feed, error) {
	f, err := c.ensure(id, true)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(c.cfg.FirstSample)
	defer t.Stop()
	select {
	case <-f.first:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, warder.Errorf(warder.ErrUnavailable, "Docker sent no stats sample within %s", c.cfg.FirstSample)
	}
}

// Latest returns the container's newest sample.
func (c *Collector) Latest(ctx context.Context, id string) (warder.Stats, error) {
	f, err := c.started(ctx, id)
	if err != nil {
		return warder.Stats{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.ended {
		return warder.Stats{}, f.err
	}
	s, _ := f.ring.Last()
	return s, nil
}

// History returns the samples taken since since, oldest first.
func (c *Collector) History(ctx context.Context, id string, since time.Time) ([]warder.Stats, error) {
	if time.Since(since) > c.cfg.Keep+c.cfg.Interval {
		return nil, warder.Errorf(warder.ErrInvalid, "stats history reaches back at most %s", c.cfg.Keep)
	}
	f, err := c.started(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.ended {
		return nil, f.err
	}
	return f.ring.Since(since), nil
}

// Watch calls fn with the newest sample, then with each new one, until ctx
// ends, fn fails or the container stops.
func (c *Collector) Watch(ctx context.Context, id string, fn func(warder.Stats) error) error {
	f, err := c.ensure(id, true)
	if err != nil {
		return err
	}
	ch := make(chan warder.Stats, 4)
	c.mu.Lock()
	if f.ended {
		c.mu.Unlock()
		return f.err
	}
	f.subs[ch] = struct{}{}
	last, ok := f.ring.Last()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(f.subs, ch)  // a nil map after the end: a no-op
		f.read = time.Now() // idle from when the last watcher left
		c.mu.Unlock()
	}()
	if ok {
		if err := fn(last); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s, open := <-ch:
			if !open {
				c.mu.Lock()
				defer c.mu.Unlock()
				return f.err
			}
			if err := fn(s); err != nil {
				return err
			}
		}
	}
}
