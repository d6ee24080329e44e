package connlimit

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// conn is a connection from addr as the table sees it (no socket).
func conn(addr string) *Conn { return &Conn{key: netip.MustParseAddr(addr)} }

// TestTableCaps: the table admits up to the per-address and the total
// caps; at the total cap it closes the oldest idle connection of the
// biggest holder, never a busy one, never one of an address holding
// fewer than the newcomer's would; every release is counted once, and the
// counts return to zero.
func TestTableCaps(t *testing.T) {
	now := time.Unix(0, 0)
	tick := func() time.Time { now = now.Add(time.Second); return now }
	tb := newTable(Limits{Total: 6, PerAddress: 3})
	admit := func(c *Conn) (*Conn, Refusal) { t.Helper(); return tb.admit(c, tick()) }
	wantCount := func(addr string, total, from int) {
		t.Helper()
		if gt, gf := tb.count(netip.MustParseAddr(addr)); gt != total || gf != from {
			t.Fatalf("count(%s) = %d total, %d from it; want %d, %d", addr, gt, gf, total, from)
		}
	}

	// One address: three in, the fourth refused, nothing pushed out.
	a := []*Conn{conn("10.0.0.1"), conn("10.0.0.1"), conn("10.0.0.1")}
	for _, c := range a {
		if v, why := admit(c); v != nil || why != Admitted {
			t.Fatalf("admit under the caps = %v, %v", v, why)
		}
	}
	if v, why := admit(conn("10.0.0.1")); v != nil || why != AddressFull {
		t.Fatalf("admit past the per-address cap = %v, %v; want AddressFull", v, why)
	}
	wantCount("10.0.0.1", 3, 3)

	// Fill the total: two from b, one from c.
	b := []*Conn{conn("10.0.0.2"), conn("10.0.0.2")}
	cc := conn("10.0.0.3")
	for _, c := range append(b, cc) {
		if _, why := admit(c); why != Admitted {
			t.Fatalf("admit under the total cap = %v", why)
		}
	}
	wantCount("10.0.0.3", 6, 1)

	// a holds the most and a[0] is its oldest idle one: a newcomer from
	// d goes in in its place.
	d := conn("10.0.0.4")
	if v, why := admit(d); why != Admitted || v != a[0] {
		t.Fatalf("admit at the total cap = %v, %v; want a[0] closed for it", v, why)
	}
	wantCount("10.0.0.1", 6, 2)
	// a[0] is counted out already: its Close later changes nothing.
	if tb.release(a[0]) {
		t.Fatal("a pushed-out connection was released twice")
	}

	// a and b hold 2 each now; a busy connection is never chosen, and on a
	// tie the oldest idle one goes: a[1] is busy, a[2] (admitted before b)
	// is the oldest idle.
	tb.setBusy(a[1])
	e := conn("10.0.0.5")
	if v, _ := admit(e); v != a[2] {
		t.Fatalf("pushed out %v; want a[2], the oldest idle of the biggest holders", v)
	}
	// a kept-alive connection going idle again is the newest idle.
	tb.setBusy(b[0])
	tb.setIdle(b[0], tick())
	f := conn("10.0.0.6")
	if v, _ := admit(f); v != b[1] {
		t.Fatalf("pushed out %v; want b[1]: b[0] went idle again later", v)
	}

	// Now every address holds one: a newcomer from an address that holds
	// one already would take the place of a smaller-or-equal holder's
	// only connection; it is refused instead.
	if v, why := admit(conn("10.0.0.3")); v != nil || why != TotalFull {
		t.Fatalf("admit from a holder of one at the cap = %v, %v; want TotalFull", v, why)
	}
	// Nobody idle: refused too, even from a new address.
	for _, c := range []*Conn{a[1], b[0], cc, d, e, f} {
		tb.setBusy(c)
	}
	if v, why := admit(conn("10.0.0.9")); v != nil || why != TotalFull {
		t.Fatalf("admit with no idle connection = %v, %v; want TotalFull", v, why)
	}

	// Everything closes (some twice): the counts are zero, no address left.
	for _, c := range []*Conn{a[0], a[1], a[2], b[0], b[1], cc, d, e, f, a[1]} {
		tb.release(c)
	}
	if tb.open != 0 || len(tb.addrs) != 0 {
		t.Fatalf("after closing: open %d, %d addresses; want 0, 0", tb.open, len(tb.addrs))
	}
}

// TestAddressOf: IPv4 connections count per address, IPv6 per /64;
// IPv4-mapped IPv6 addresses as IPv4; zones do not split an address.
func TestAddressOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
	} {
		ap := netip.AddrPortFrom(netip.MustParseAddr(tc.in), 1234)
		if got := addressOf(net.TCPAddrFromAddrPort(ap)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("addressOf(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
