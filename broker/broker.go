// Package broker fans agents' status changes out to the parts of this
// process that follow them: the API's event streams and the stats
// collector. It implements warder.EventBus in memory, and is what the
// PostgreSQL feed (sqlstore.Feed) fans out through.
package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
)

var _ warder.EventBus = (*Broker)(nil)

// DefaultBuffer is how many changes a subscriber may fall behind by
// before it misses some.
const DefaultBuffer = 256

// Kept is how many of the latest changes a Broker keeps for Since: the
// window of a client reconnecting to the same process.
const Kept = 1024

// Broker is an in-process publish/subscribe of status changes. Publish
// never waits for a subscriber; a subscriber whose buffer is full misses
// the change (Dropped counts them), so one stalled client cannot hold up
// the service that publishes. It is safe for concurrent use.
type Broker struct {
	buffer  int
	mu      sync.Mutex
	subs    map[chan warder.StatusChange]struct{}
	dropped atomic.Uint64
	// next numbers changes published without an id; it starts at the
	// Unix time in microseconds, so a process started later numbers
	// after one that ran before it, and a client's Last-Event-ID from
	// before a restart asks for everything kept.
	next int64
	// kept are the latest changes, oldest first, at most Kept.
	kept []warder.StatusChange
}

// New returns a Broker whose subscribers each buffer that many changes;
// 0 means DefaultBuffer.
func New(buffer int) *Broker {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Broker{buffer: buffer, subs: map[chan warder.StatusChange]struct{}{}, next: time.Now().UnixMicro()}
}

// Publish hands c to every current subscriber that has room for it. A
// change without an ID is numbered after every earlier one.
func (b *Broker) Publish(c warder.StatusChange) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.ID == 0 {
		b.next++
		c.ID = b.next
	} else {
		b.next = max(b.next, c.ID)
	}
	if len(b.kept) == Kept {
		b.kept = append(b.kept[:0], b.kept[1:]...)
	}
	b.kept = append(b.kept, c)
	for ch := range b.subs {
		select {
		case ch <- c:
		default:
			b.dropped.Add(1)
		}
	}
}

// Subscribe returns a channel of every change published from now on, and
// the function that ends the subscription and closes the channel.
func (b *Broker) Subscribe() (<-chan warder.StatusChange, func()) {
	ch := make(chan warder.StatusChange, b.buffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// Since returns the kept changes numbered after id, oldest first.
func (b *Broker) Since(_ context.Context, id int64) ([]warder.StatusChange, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []warder.StatusChange
	for _, c := range b.kept {
		if c.ID > id {
			out = append(out, c)
		}
	}
	return out, nil
}

// Subscribers is how many subscriptions are open.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped is how many changes subscribers have missed, in all.
func (b *Broker) Dropped() uint64 { return b.dropped.Load() }
