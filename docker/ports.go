package docker

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/warder/warder"
)

// badPortFor is how long a host port the engine could not bind is skipped
// by the allocator: something outside Warder took it after the claim.
const badPortFor = time.Minute

// ports hands out host ports from the configured range. The claim itself
// is atomic in the store, so processes sharing one database never hand out
// a port twice; mu only keeps this process from racing itself.
type ports struct {
	store      warder.PortStore
	start, end int
	free       func(port int) bool

	mu  sync.Mutex
	bad map[int]time.Time // ports a start failed to bind, and when
}

func newPorts(cfg Config) *ports {
	free := cfg.PortFree
	if free == nil {
		free = listenFree(cfg.BindAddress)
	}
	return &ports{store: cfg.Ports, start: cfg.PortStart, end: cfg.PortEnd, free: free, bad: map[int]time.Time{}}
}

// claim returns the agent's host port: the one it holds when that is still
// free on the host, else the lowest free one in the range, claimed.
func (p *ports) claim(ctx context.Context, agentID string) (int, error) {
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
	used, err := p.store.UsedPorts(ctx)
	if err != nil {
		return 0, err
	}
	taken := make(map[int]bool, len(used))
	for _, u := range used {
		taken[u] = true
	}
	for port := p.start; port <= p.end; port++ {
		if taken[port] || p.isBad(port) || !p.free(port) {
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

// release gives up the agent's port, if it holds port (0: whatever it holds).
func (p *ports) release(ctx context.Context, agentID string, port int) error {
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

// markBad remembers a port the engine failed to publish on.
func (p *ports) markBad(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad[port] = time.Now()
}

// isBad runs under mu.
func (p *ports) isBad(port int) bool {
	at, ok := p.bad[port]
	if ok && time.Since(at) > badPortFor {
		delete(p.bad, port)
		return false
	}
	return ok
}

// listenFree checks a port by binding it briefly at bind, the address
// agent ports are published on: whatever already listens there (Warder's
// own agents included) makes the bind fail.
func listenFree(bind string) func(int) bool {
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
