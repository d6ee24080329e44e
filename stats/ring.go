package stats

import (
	"time"

	"github.com/warder/warder"
)

// Ring keeps the newest samples, up to a fixed number, oldest overwritten
// first. It is not safe for concurrent use; the Collector guards it.
type Ring struct {
	buf  []warder.Stats
	next int  // where the next sample goes
	full bool // every slot holds a sample
}

// NewRing returns a ring of n samples (at least 1).
func NewRing(n int) *Ring { return &Ring{buf: make([]warder.Stats, max(n, 1))} }

// Add keeps s, dropping the oldest sample when the ring is full.
func (r *Ring) Add(s warder.Stats) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// Len is how many samples the ring holds.
func (r *Ring) Len() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// Last returns the newest sample; false when there is none.
func (r *Ring) Last() (warder.Stats, bool) {
	if r.Len() == 0 {
		return warder.Stats{}, false
	}
	return r.buf[(r.next-1+len(r.buf))%len(r.buf)], true
}

// Since returns the samples read at or after t, oldest first, in a new
// slice. Samples are added in time order, so it walks back from the
// newest and stops at the first older one.
func (r *Ring) Since(t time.Time) []warder.Stats {
	n := r.Len()
	i := 0
	for i < n {
		s := r.buf[(r.next-1-i+2*len(r.buf))%len(r.buf)]
		if s.ReadAt.Before(t) {
			break
		}
		i++
	}
	out := make([]warder.Stats, i)
	for j := range i {
		out[i-1-j] = r.buf[(r.next-1-j+2*len(r.buf))%len(r.buf)]
	}
	return out
}
