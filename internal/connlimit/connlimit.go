// Package connlimit bounds a server's open connections, in total and per
// client address, so clients that open connections and send nothing
// cannot take every file descriptor (and, with them, /healthz and every
// other request). It wraps a net.Listener: a connection past a cap is
// closed as soon as it is accepted, with no goroutine, no read and no
// answer; at the total cap an idle connection of the biggest holder is
// closed to make room instead (see table.admit), so a client holding
// few connections gets in while a bigger holder has one idle.
//
// Listener.ConnState must be the http.Server's ConnState hook: that is
// how the listener tells idle connections (which it may close to make
// room) from those carrying a request. Without it, every connection
// would count as idle from its arrival to its end.
package connlimit

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Limits are the caps. Both must be at least 1, PerAddress at most Total.
type Limits struct {
	// Total bounds the connections open at once.
	Total int
	// PerAddress bounds those of one client address: one IPv4 address,
	// or one IPv6 /64 (what one host or one customer is usually given).
	PerAddress int
}

// logEvery is how often refusals are logged at most: a flood of them
// must not become a flood of log lines.
const logEvery = time.Minute

// Listener is a net.Listener that admits connections within Limits.
type Listener struct {
	net.Listener
	log *slog.Logger

	mu     sync.Mutex
	t      *table
	stats  Stats
	logged Stats     // stats at the last log line
	lastAt time.Time // of the last log line
}

// Stats are a Listener's counts.
type Stats struct {
	// Open is the connections open now.
	Open int
	// RefusedAddress and RefusedTotal count the connections closed on
	// arrival because their address, or the whole server, was at its cap.
	RefusedAddress, RefusedTotal uint64
	// ClosedIdle counts idle connections closed to make room for a new one.
	ClosedIdle uint64
}

// New wraps ln. log receives at most one line per minute about refused
// connections.
func New(ln net.Listener, l Limits, log *slog.Logger) *Listener {
	return &Listener{Listener: ln, log: log, t: newTable(l)}
}

// Accept returns the next connection within the caps; the ones past
// them are closed here, without a goroutine or a read.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &Conn{Conn: nc, l: l, key: addressOf(nc.RemoteAddr())}
		l.mu.Lock()
		victim, why := l.t.admit(c, time.Now())
		report := l.count(c.key, victim, why)
		l.mu.Unlock()
		if report != nil {
			// The counts are since the previous line (or the start).
			l.log.Warn("connections refused or closed at the connection caps", report...)
		}
		if victim != nil {
			reset(victim.Conn)
		}
		if why == Admitted {
			return c, nil
		}
		reset(nc)
	}
}

// count records one admission's outcome; it returns what to log about
// refusals, at most once per logEvery. It runs with l.mu held.
func (l *Listener) count(addr netip.Addr, victim *Conn, why Refusal) (report []any) {
	switch why {
	case AddressFull:
		l.stats.RefusedAddress++
	case TotalFull:
		l.stats.RefusedTotal++
	}
	if victim != nil {
		l.stats.ClosedIdle++
	}
	if why == Admitted && victim == nil {
		return nil
	}
	now := time.Now()
	if !l.lastAt.IsZero() && now.Sub(l.lastAt) < logEvery {
		return nil
	}
	s, last := l.stats, l.logged
	l.logged, l.lastAt = s, now
	return []any{"refused_per_address", s.RefusedAddress - last.RefusedAddress,
		"refused_total", s.RefusedTotal - last.RefusedTotal,
		"idle_closed", s.ClosedIdle - last.ClosedIdle,
		"open", l.t.open, "address", addr.String()}
}

// Stats returns the counts now.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Open = l.t.open
	return s
}

// ConnState is the http.Server's ConnState hook that tells the listener
// which connections are idle: new ones, and kept-alive ones between
// requests. Those reading or answering a request, and hijacked ones, are
// never closed to make room.
func (l *Listener) ConnState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*Conn)
	if !ok || c.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateNew, http.StateIdle:
		l.t.setIdle(c, time.Now())
	case http.StateActive, http.StateHijacked:
		l.t.setBusy(c)
	}
}

// Conn is an admitted connection; closing it frees its place.
type Conn struct {
	net.Conn
	l   *Listener
	key netip.Addr
	// The rest is the table's, under l.mu.
	counted   bool
	elem      *list.Element // in its holder's idle list while idle
	idleSince time.Time
}

// Close closes the connection and frees its place, once.
func (c *Conn) Close() error {
	c.l.mu.Lock()
	c.l.t.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// addressOf is the key a connection is counted under: its IPv4 address,
// or its IPv6 address's /64. Anything else (a Unix socket) shares one key.
func addressOf(a net.Addr) netip.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip := ta.AddrPort().Addr().Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// reset closes c at once with a reset rather than a FIN: the kernel keeps
// no TIME_WAIT state for a connection refused or pushed out.
func reset(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
