package app

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/api"
	"github.com/warder/warder/internal/connlimit"
)

// TestHTTPServerLimits: the server Warder serves on closes idle
// keep-alive connections and connections whose headers do not come, and
// refuses oversized headers. It runs with short limits of the same shape
// as defaultServerLimits.
func TestHTTPServerLimits(t *testing.T) {
	if defaultServerLimits.ReadHeader <= 0 || defaultServerLimits.Idle <= 0 || defaultServerLimits.MaxHeaderBytes <= 0 {
		t.Fatalf("defaultServerLimits leaves a bound unset: %+v", defaultServerLimits)
	}
	const bound = 300 * time.Millisecond
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, ln := newHTTPServer(api.New(api.Options{}), serverLimits{ReadHeader: bound, Idle: bound, MaxHeaderBytes: 4 << 10,
		Conns: connlimit.Limits{Total: 16, PerAddress: 16}}, tcp, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// closedWithin fails unless the server closes conn within the bound
	// and some slack.
	closedWithin := func(t *testing.T, conn net.Conn, r *bufio.Reader) {
		t.Helper()
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("the server did not close the connection: %v", err)
		}
		if took := time.Since(start); took > bound+2*time.Second {
			t.Fatalf("the connection stayed open %s; the bound is %s", took, bound)
		}
	}
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, bufio.NewReader(conn)
	}

	t.Run("idle keep-alive", func(t *testing.T) {
		conn, r := dial(t)
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: warder\r\n\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("healthz = %v, %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		closedWithin(t, conn, r)
	})
	t.Run("headers never finished", func(t *testing.T) {
		conn, r := dial(t)
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: warder\r\n")
		closedWithin(t, conn, r)
	})
	t.Run("oversized headers", func(t *testing.T) {
		conn, r := dial(t)
		fmt.Fprintf(conn, "GET /%s HTTP/1.1\r\nHost: warder\r\n\r\n", strings.Repeat("a", 64<<10))
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("64 KiB path = %v, %v", resp, err)
		}
	})
}
