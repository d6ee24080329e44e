package hostports

import (
	"context"

	"github.com/warder/warder"
)

// Pick sets aside a free port for a warm pool's container. No agent
// holds it in the store, so it is kept from this process's claims here
// and from other processes' by the engine listening on it once the
// container runs (free fails then).
func (p *Allocator) Pick(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	taken, err := p.taken(ctx)
	if err != nil {
		return 0, err
	}
	for port := p.start; port <= p.end; port++ {
		if !taken[port] && !p.pooled[port] && !p.isBad(port) && p.free(port) {
			p.pooled[port] = true
			return port, nil
		}
	}
	return 0, warder.Errorf(warder.ErrConflict, "no free host port in the agent port range %d-%d", p.start, p.end)
}

// Hold sets aside exactly ports, those the pool's unclaimed containers
// publish now (made before this process started, too), and no others:
// a port handed over by another process's claim goes back to the store's
// care.
func (p *Allocator) Hold(ports []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.pooled)
	for _, port := range ports {
		p.pooled[port] = true
	}
}

// Drop gives back a pool port whose container is gone.
func (p *Allocator) Drop(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pooled, port)
}

// Adopt gives a pool container's port to the agent that claimed it,
// releasing any other port the agent held. A port an agent holds
// meanwhile (another process's claim, before the engine bound it) is
// ErrConflict.
func (p *Allocator) Adopt(ctx context.Context, agentID string, port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	held, err := p.store.PortOf(ctx, agentID)
	if err != nil {
		return err
	}
	if held != port {
		if held != 0 {
			if err := p.store.ReleasePort(ctx, agentID); err != nil {
				return err
			}
		}
		if err := p.store.ClaimPort(ctx, agentID, port); err != nil {
			return err
		}
	}
	delete(p.pooled, port)
	return nil
}
