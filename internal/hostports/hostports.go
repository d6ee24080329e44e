// Package hostports hands out host ports from a range to agents, with the
// claims kept in a warder.PortStore so processes sharing one store never
// hand out a port twice. The Docker runtime publishes agents on them; the
// conformance-checked fake runtime uses the same allocator.
package hostports

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/warder/warder"
)

// BadFor is how long a port marked bad (the engine could not bind it:
// something outside Warder took it after the claim) is skipped.
const BadFor = time.Minute

// Allocator hands out host ports from Start to End. The claim itself is
// atomic in the store, so processes sharing one database never hand out a
// port twice; mu only keeps this process from racing itself. It is safe
// for concurrent use.
type Allocator struct {
	store      warder.PortStore
	start, end int
	free       func(port int) bool

	mu  sync.Mutex
	bad map[int]time.Time // ports a start failed to bind, and when
	// pooled are ports published for a warm pool's containers: no agent
	// holds them in the store until a claim hands one over (Adopt).
	pooled map[int]bool
}

// New returns an Allocator of the ports start to end, whose claims store
// keeps; free reports whether nothing outside Warder holds a port (nil:
// ListenFree on loopback).
func New(store warder.PortStore, start, end int, free func(port int) bool) *Allocator {
	if free == nil {
		free = ListenFree("")
	}
	return &Allocator{store: store, start: start, end: end, free: free, bad: map[int]time.Time{}, pooled: map[int]bool{}}
}

// Range is "start-end".
func (p *Allocator) Range() string { return fmt.Sprintf("%d-%d", p.start, p.end) }

// Claim returns the agent's host port: the one it holds when that is still
// free on the host, else the lowest free one in the range, claimed.
func (p *Allocator) Claim(ctx context.Context, agentID string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held, err := p.store.PortOf(ctx, agentID)
	if err != nil {
		return 0, err
	}
	if held != 0 {
		if !p.isBad(held) && p.free(held) {
			return held, nil
		}
		// Something outside Warder took it while the agent had no container.
		if err := p.store.ReleasePort(ctx, agentID); err != nil {
			return 0, err
		}
	}
	taken, err := p.taken(ctx)
	if err != nil {
		return 0, err
	}
	for port := p.start; port <= p.end; port++ {
		if taken[port] || p.pooled[port] || p.isBad(port) || !p.free(port) {
			continue
		}
		err := p.store.ClaimPort(ctx, agentID, port)
		if err == nil {
			return port, nil
		}
		if !errors.Is(err, warder.ErrConflict) {
			return 0, err
		}
	}
	return 0, warder.Errorf(warder.ErrConflict, "no free host port in the agent port range %d-%d", p.start, p.end)
}

// Release gives up the agent's port, if it holds port (0: whatever it holds).
func (p *Allocator) Release(ctx context.Context, agentID string, port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if port != 0 {
		held, err := p.store.PortOf(ctx, agentID)
		if err != nil || held != port {
			return err
		}
	}
	return p.store.ReleasePort(ctx, agentID)
}

// taken is every port an agent holds in the store.
func (p *Allocator) taken(ctx context.Context) (map[int]bool, error) {
	used, err := p.store.UsedPorts(ctx)
	if err != nil {
		return nil, err
	}
	taken := make(map[int]bool, len(used))
	for _, u := range used {
		taken[u] = true
	}
	return taken, nil
}

// MarkBad remembers a port the engine failed to publish on.
func (p *Allocator) MarkBad(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad[port] = time.Now()
}

// isBad runs under mu.
func (p *Allocator) isBad(port int) bool {
	at, ok := p.bad[port]
	if ok && time.Since(at) > BadFor {
		delete(p.bad, port)
		return false
	}
	return ok
}

// ListenFree checks a port by binding it briefly at bind, the address
// agent ports are published on: whatever already listens there (Warder's
// own agents included) makes the bind fail.
func ListenFree(bind string) func(int) bool {
	if bind == "" {
		bind = "127.0.0.1"
	}
	return func(port int) bool {
		l, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
}

// Reclaim claims exactly port for the agent again: the port its stopped
// container is published on, as that container starts again (a stop
// gave the port up). A port another agent or the warm pool took
// meanwhile is ErrConflict; the caller then makes a new container.
func (p *Allocator) Reclaim(ctx context.Context, agentID string, port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	held, err := p.store.PortOf(ctx, agentID)
	if err != nil || held == port {
		return err
	}
	if p.pooled[port] {
		return warder.Errorf(warder.ErrConflict, "host port %d was taken while the agent was stopped", port)
	}
	if held != 0 {
		if err := p.store.ReleasePort(ctx, agentID); err != nil {
			return err
		}
	}
	if err := p.store.ClaimPort(ctx, agentID, port); err != nil {
		if errors.Is(err, warder.ErrConflict) {
			return warder.Errorf(warder.ErrConflict, "host port %d was taken while the agent was stopped", port)
		}
		return err
	}
	return nil
}
