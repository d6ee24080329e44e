// Package broker fans agents' status changes out to the parts of this
// process that follow them: the API's event streams and the stats
// collector. It implements warder.EventBus in memory.
package broker

import (
	"sync"
	"sync/atomic"

	"github.com/warder/warder"
)

var _ warder.EventBus = (*Broker)(nil)

// DefaultBuffer is how many changes a subscriber may fall behind by
// before it misses some.
const DefaultBuffer = 256

// Broker is an in-process publish/subscribe of status changes. Publish
// never waits for a subscriber; a subscriber whose buffer is full misses
// the change (Dropped counts them), so one stalled client cannot hold up
// the service that publishes. It is safe for concurrent use.
type Broker struct {
	buffer  int
	mu      sync.Mutex
	subs    map[chan warder.StatusChange]struct{}
	dropped atomic.Uint64
}

// New returns a Broker whose subscribers each buffer that many changes;
// 0 means DefaultBuffer.
func New(buffer int) *Broker {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Broker{buffer: buffer, subs: map[chan warder.StatusChange]struct{}{}}
}

// Publish hands c to every current subscriber that has room for it.
func (b *Broker) Publish(c warder.StatusChange) {
	b.mu.Lock()
	defer b.mu.Unlock()
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

// Subscribers is how many subscriptions are open.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped is how many changes subscribers have missed, in all.
func (b *Broker) Dropped() uint64 { return b.dropped.Load() }
