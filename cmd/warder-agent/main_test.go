package main

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the server goroutine log while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestServeAndShutdown runs the real server: the start-up line, the health
// subcommand, and a clean return once the signal context is cancelled.
func TestServeAndShutdown(t *testing.T) {
	port := freePort(t)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	environ := []string{"AGENT_ID=a1", "AGENT_NAME=My Agent", "AGENT_TYPE=echo", "PORT=" + port,
		"TEST_VAR=do-not-log-me", "OTHER=1"}
	go func() { done <- serve(ctx, log.New(&logs, "", 0), environ) }()

	deadline := time.Now().Add(5 * time.Second)
	for health(port) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("health never passed; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("serve did not return after cancel")
	}

	out := logs.String()
	want := `warder-agent starting agent_id=a1 agent_name="My Agent" agent_type=echo port=` + port + ` model=offline upstream=offline env=[OTHER TEST_VAR]`
	if !strings.Contains(out, want) {
		t.Errorf("logs lack %q:\n%s", want, out)
	}
	if strings.Contains(out, "do-not-log-me") {
		t.Errorf("logs leak an env value:\n%s", out)
	}
	if health(port) == 0 {
		t.Error("health passed after shutdown")
	}
}

// TestStopClosesLingeringConnections: a connection that stays open past
// the drain (here one that never sends a request, which the server counts
// as busy for 5 s) is closed, and the stop still ends cleanly.
func TestStopClosesLingeringConnections(t *testing.T) {
	port := freePort(t)
	l, err := listen(port)
	if err != nil {
		t.Fatal(err)
	}
	l.drain = 200 * time.Millisecond
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, log.New(&logs, "", 0), map[string]string{"PORT": port}, l) }()
	deadline := time.Now().Add(5 * time.Second)
	for health(port) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("health never passed; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	silent, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v with a connection left open, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(logs.String(), "closing the connections still open after 200ms") {
		t.Errorf("logs do not say connections were closed:\n%s", logs.String())
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the lingering connection is still open (read %d, %v)", n, err)
	}
}

func TestPortFrom(t *testing.T) {
	for in, want := range map[string]int{"": 8000, "9000": 9000} {
		if got, err := portFrom(in); err != nil || got != want {
			t.Errorf("portFrom(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "x", "70000", "-1"} {
		if _, err := portFrom(bad); err == nil {
			t.Errorf("portFrom(%q) succeeded, want an error", bad)
		}
	}
}
