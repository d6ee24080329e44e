package testenv

import (
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Proxy is a unix socket that forwards every connection, byte for byte,
// to the Docker engine's socket, and can be cut and restored: a test's
// stand-in for the engine going away and coming back.
type Proxy struct {
	tb     testing.TB
	path   string // the proxy's socket
	target string // the engine's socket

	mu    sync.Mutex
	ln    net.Listener          // nil while cut
	conns map[net.Conn]struct{} // both ends of every forwarded connection
	wg    sync.WaitGroup        // accept loops and copiers
}

// DockerProxy starts a Proxy to the engine's unix socket (DOCKER_HOST's,
// or /var/run/docker.sock) in a temporary directory, and stops and removes
// it in tb.Cleanup. It skips tb as Docker does when there is no engine, or
// when DOCKER_HOST is not a unix socket.
func DockerProxy(tb testing.TB) *Proxy {
	tb.Helper()
	Docker(tb)
	target, err := dockerSocket(os.Getenv("DOCKER_HOST"))
	if err != nil {
		if os.Getenv("WARDER_REQUIRE_DOCKER") == "1" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}
	// A short directory: a unix socket's path must fit in 108 bytes,
	// which a test's TempDir may not.
	dir, err := os.MkdirTemp("", "wdp")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{tb: tb, path: filepath.Join(dir, "docker.sock"), target: target, conns: map[net.Conn]struct{}{}}
	tb.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	p.Restore()
	return p
}

// dockerSocket is the engine's socket path for a DOCKER_HOST value.
func dockerSocket(host string) (string, error) {
	if host == "" {
		return "/var/run/docker.sock", nil
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" || u.Path == "" {
		return "", errors.New("DockerProxy needs the engine on a unix socket; DOCKER_HOST is " + host)
	}
	return u.Path, nil
}

// Host is the proxy's address in DOCKER_HOST form, for a client's host.
func (p *Proxy) Host() string { return "unix://" + p.path }

// Cut closes the listener and every forwarded connection at once, so an
// open stream breaks and a new connection is refused (the socket file is
// gone) until Restore. Cutting a cut proxy does nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close() // also removes the socket file
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore listens again on the same path; restoring a proxy that is not
// cut does nothing. Call it from the test's goroutine: a failure to listen
// fails the test.
func (p *Proxy) Restore() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.tb.Fatalf("DockerProxy: %v", err)
	}
	p.ln = ln
	p.wg.Go(func() { p.accept(ln) })
}

// accept forwards ln's connections until ln is closed.
func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(ln, c) })
	}
}

// forward pipes c to a new connection to the engine, both ways, until
// both directions are done or the proxy is cut. An EOF is passed on as a
// half-close, as the client's hijacked streams (attach, exec) expect.
func (p *Proxy) forward(ln net.Listener, c net.Conn) {
	e, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(ln, c, e) {
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close() // a broken side ends both
			src.Close()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	wg.Go(func() { pipe(e, c) })
	wg.Go(func() { pipe(c, e) })
	wg.Wait()
	p.untrack(c, e)
}

// track registers a connection pair, unless its listener was cut in the
// meantime, in which case it closes them.
func (p *Proxy) track(ln net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}
