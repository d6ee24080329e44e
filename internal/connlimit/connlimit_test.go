package connlimit

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestListenerSparesBusyConnections: through an http.Server's ConnState
// hook, the listener knows a connection whose request is being answered
// from an idle one: at the total cap it closes the idle one for a
// newcomer, and the busy one's answer still arrives.
func TestListenerSparesBusyConnections(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(tcp, Limits{Total: 2, PerAddress: 2}, slog.New(slog.DiscardHandler))
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{ConnState: ln.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	busy := dial("127.0.0.1")
	fmt.Fprint(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	idle := dial("127.0.0.1")
	waitOpen(t, ln, 2)
	newcomer := dial("127.0.0.2")
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the idle connection was not closed for the newcomer: %v", err)
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the busy connection's answer: %v, %v", resp, err)
	}
	fmt.Fprint(newcomer, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	newcomer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(newcomer), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the newcomer's answer: %v, %v", resp, err)
	}
	if s := ln.Stats(); s.ClosedIdle != 1 || s.RefusedTotal != 0 || s.RefusedAddress != 0 {
		t.Fatalf("counts %+v; want one idle connection closed", s)
	}
	busy.Close()
	waitOpen(t, ln, 0)
}

// waitOpen waits, within a deadline, for n connections to be open.
func waitOpen(t *testing.T, ln *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ln.Stats().Open != n {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %d open: %+v", n, ln.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
