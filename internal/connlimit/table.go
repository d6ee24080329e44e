package connlimit

import (
	"container/list"
	"net/netip"
	"time"
)

// Refusal says why a connection was not admitted.
type Refusal int

// The reasons a connection is refused.
const (
	Admitted Refusal = iota
	// AddressFull: its address already holds Limits.PerAddress.
	AddressFull
	// TotalFull: Limits.Total are open and none could be closed in its
	// place (see table.admit).
	TotalFull
)

// table counts open connections in total and per address, and keeps
// each address's idle connections (no request read yet, or kept alive
// between requests) oldest first, so one can be closed to make room.
// It does no I/O and is not safe for concurrent use: Listener holds its
// lock around every call.
type table struct {
	total, perAddr int
	open           int
	addrs          map[netip.Addr]*holder
}

// holder is one address's share.
type holder struct {
	n    int       // connections open
	idle list.List // its idle *Conn, oldest first
}

func newTable(l Limits) *table {
	return &table{total: l.Total, perAddr: l.PerAddress, addrs: make(map[netip.Addr]*holder)}
}

// admit counts c, from c.key, as open and idle, or says why not. At the
// total cap it makes room by closing an idle connection of the address
// that holds the most, if that address would still hold at least as many
// as c's once c is in (the oldest of them on a tie): connections move
// only from bigger holders to smaller ones, so one client at its
// per-address cap, or a few of them together, cannot push out a
// client that holds one (a health check). The victim, already counted
// out, is returned for the caller to close.
func (t *table) admit(c *Conn, now time.Time) (victim *Conn, why Refusal) {
	h := t.addrs[c.key]
	if h != nil && h.n >= t.perAddr {
		return nil, AddressFull
	}
	if t.open >= t.total {
		want := 1
		if h != nil {
			want = h.n + 1
		}
		victim = t.victim(want)
		if victim == nil {
			return nil, TotalFull
		}
		t.release(victim)
	}
	if h == nil {
		h = &holder{}
		t.addrs[c.key] = h
	}
	t.open++
	h.n++
	c.counted = true
	t.setIdle(c, now)
	return victim, Admitted
}

// victim is the oldest idle connection of the address holding the most
// connections, at least atLeast; nil if there is none. It scans the
// addresses, at most Limits.Total of them, and only at the total cap.
func (t *table) victim(atLeast int) *Conn {
	var best *Conn
	bestN := 0
	for _, h := range t.addrs {
		front := h.idle.Front()
		if front == nil || h.n < atLeast {
			continue
		}
		c := front.Value.(*Conn)
		if best == nil || h.n > bestN || (h.n == bestN && c.idleSince.Before(best.idleSince)) {
			best, bestN = c, h.n
		}
	}
	return best
}

// setIdle marks c as waiting for a request (safe to close to make room).
func (t *table) setIdle(c *Conn, now time.Time) {
	if !c.counted || c.elem != nil {
		return
	}
	c.idleSince = now
	c.elem = t.addrs[c.key].idle.PushBack(c)
}

// setBusy marks c as reading or answering a request, or hijacked: it is
// never closed to make room.
func (t *table) setBusy(c *Conn) {
	if c.elem == nil {
		return
	}
	t.addrs[c.key].idle.Remove(c.elem)
	c.elem = nil
}

// release counts c out; it reports whether c was still counted, so a
// connection closed twice is counted out once.
func (t *table) release(c *Conn) bool {
	if !c.counted {
		return false
	}
	t.setBusy(c)
	c.counted = false
	t.open--
	h := t.addrs[c.key]
	if h.n--; h.n == 0 {
		delete(t.addrs, c.key)
	}
	return true
}

// count is how many connections are open in total and from addr.
func (t *table) count(addr netip.Addr) (total, fromAddr int) {
	if h := t.addrs[addr]; h != nil {
		fromAddr = h.n
	}
	return t.open, fromAddr
}
