package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder/api"
	"github.com/warder/warder/internal/connlimit"
)

// TestConnectionCaps: the server Warder serves on closes at once the
// connections one address opens past its cap, while /healthz from
// another address answers; with the total cap held by connections that
// send nothing, /healthz still answers (the oldest idle connection of
// the biggest holder makes room); once the clients close, the counts are
// back to zero. Loopback addresses other than 127.0.0.1 stand for other
// clients (Linux routes all of 127/8 to lo).
func TestConnectionCaps(t *testing.T) {
	const perAddr, total = 4, 8
	limits := defaultServerLimits
	// Long enough that the server's own timeouts close nothing here.
	limits.ReadHeader, limits.Idle = time.Minute, time.Minute
	limits.Conns = connlimit.Limits{Total: total, PerAddress: perAddr}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, ln := newHTTPServer(api.New(api.Options{}), limits, tcp, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	var held []net.Conn
	dial := func(ip string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
		conn, err := d.Dial("tcp", addr)
		if err == nil {
			held = append(held, conn)
		}
		return conn, err
	}
	dialFrom := func(t *testing.T, ip string) net.Conn {
		t.Helper()
		conn, err := dial(ip)
		if err != nil {
			t.Fatalf("dial from %s: %v", ip, err)
		}
		return conn
	}
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	// waitStats waits, within a deadline, for the server's counts to
	// satisfy ok.
	waitStats := func(t *testing.T, what string, ok func(connlimit.Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s := ln.Stats(); !ok(s); s = ln.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: counts are %+v", what, s)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// closedByServer fails unless the server closes conn (EOF or reset)
	// within a deadline.
	closedByServer := func(t *testing.T, conn net.Conn, what string) {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := conn.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the server did not close it (%v)", what, err)
		}
	}
	healthz := func(t *testing.T, from string) {
		t.Helper()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("/healthz from %s: %v (counts %+v)", from, err, ln.Stats())
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz from %s = %d", from, resp.StatusCode)
		}
	}

	// 127.0.0.1 opens its cap of connections and sends nothing; the ones
	// past the cap are closed on arrival.
	first := make([]net.Conn, perAddr)
	for i := range first {
		first[i] = dialFrom(t, "127.0.0.1")
	}
	waitStats(t, "the per-address cap's connections", func(s connlimit.Stats) bool { return s.Open == perAddr })
	for i := range 3 {
		what := fmt.Sprintf("connection %d past the per-address cap", perAddr+i+1)
		conn, err := dial("127.0.0.1")
		switch {
		case errors.Is(err, syscall.ECONNRESET):
			// Reset before connect(2) returned: closed promptly too.
		case err != nil:
			t.Fatalf("%s: %v", what, err)
		default:
			closedByServer(t, conn, what)
		}
	}
	if s := ln.Stats(); s.Open != perAddr || s.RefusedAddress != 3 {
		t.Fatalf("after 3 past the per-address cap: %+v", s)
	}
	healthz(t, "127.0.0.2")
	// The server closes that connection after answering.
	waitStats(t, "/healthz's connection to close", func(s connlimit.Stats) bool { return s.Open == perAddr })

	// 127.0.0.3 fills the rest of the total the same way; /healthz still
	// answers, in place of 127.0.0.1's oldest idle connection (127.0.0.1
	// and .3 hold as many, and .1's are older).
	for range total - perAddr {
		dialFrom(t, "127.0.0.3")
	}
	waitStats(t, "the total cap's connections", func(s connlimit.Stats) bool { return s.Open == total })
	healthz(t, "127.0.0.2")
	closedByServer(t, first[0], "the oldest idle connection at the total cap")
	if s := ln.Stats(); s.ClosedIdle != 1 || s.RefusedTotal != 0 {
		t.Fatalf("after /healthz at the total cap: %+v; want one idle connection closed, none refused", s)
	}

	// Every client leaves: nothing stays counted.
	for _, c := range held {
		c.Close()
	}
	waitStats(t, "the counts to return to zero", func(s connlimit.Stats) bool { return s.Open == 0 })
}

// TestConnectionSettings: the connection caps default to 4096 and 256,
// lowered to what the open-file limit carries; a setting past that limit,
// a per-address cap above the total, or a negative or non-numeric value
// stops the start with an error naming the setting.
func TestConnectionSettings(t *testing.T) {
	for _, tc := range []struct {
		name          string
		total, per    int
		files         int
		wantTotal     int
		wantPer       int
		wantErrString string
	}{
		{name: "defaults", files: 1 << 20, wantTotal: 4096, wantPer: 256},
		{name: "defaults, limit unknown", files: 0, wantTotal: 4096, wantPer: 256},
		{name: "defaults under ulimit -n 1024", files: 1024, wantTotal: 384, wantPer: 256},
		{name: "defaults under ulimit -n 512", files: 512, wantTotal: 128, wantPer: 128},
		{name: "set", total: 100, per: 10, files: 1 << 20, wantTotal: 100, wantPer: 10},
		{name: "total set, per-address default", total: 100, files: 1 << 20, wantTotal: 100, wantPer: 100},
		{name: "past the open-file limit", total: 1000, files: 1024, wantErrString: "WARDER_MAX_CONNECTIONS 1000 is more than the open-file limit (1024)"},
		{name: "per address above total", total: 10, per: 11, wantErrString: "WARDER_MAX_CONNECTIONS_PER_ADDRESS 11 is more than WARDER_MAX_CONNECTIONS 10"},
		{name: "negative", total: -1, wantErrString: "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{MaxConnections: tc.total, MaxConnectionsPerAddress: tc.per}
			err := c.validateConnections(tc.files)
			if tc.wantErrString != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrString) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErrString)
				}
				return
			}
			if err != nil || c.MaxConnections != tc.wantTotal || c.MaxConnectionsPerAddress != tc.wantPer {
				t.Fatalf("= %d, %d, %v; want %d, %d", c.MaxConnections, c.MaxConnectionsPerAddress, err, tc.wantTotal, tc.wantPer)
			}
		})
	}

	// Through the environment and flags, as cmd/warder reads them.
	t.Setenv("WARDER_MAX_CONNECTIONS", "lots")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_MAX_CONNECTIONS") {
		t.Fatalf("WARDER_MAX_CONNECTIONS=lots: %v", err)
	}
	t.Setenv("WARDER_MAX_CONNECTIONS", "64")
	t.Setenv("WARDER_MAX_CONNECTIONS_PER_ADDRESS", "128")
	if _, err := LoadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_MAX_CONNECTIONS_PER_ADDRESS") {
		t.Fatalf("per address 128 over 64 in all: %v", err)
	}
	if cfg, err := LoadConfig([]string{"-max-connections-per-address", "8"}); err != nil || cfg.MaxConnections != 64 || cfg.MaxConnectionsPerAddress != 8 {
		t.Fatalf("-max-connections-per-address 8 over the environment: %d %d %v", cfg.MaxConnections, cfg.MaxConnectionsPerAddress, err)
	}
}
