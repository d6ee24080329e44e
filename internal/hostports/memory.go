package hostports

import (
	"context"
	"sync"

	"github.com/warder/warder"
)

var _ warder.PortStore = (*Memory)(nil)

// Memory is a warder.PortStore kept in memory: for a runtime used on
// its own, outside Warder (tests, benchmarks, tools), whose claims need not
// be shared with another process. Warder itself keeps them in its store.
type Memory struct {
	mu   sync.Mutex
	held map[string]int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{held: map[string]int{}} }

// ClaimPort gives port to the agent unless either is taken.
func (m *Memory) ClaimPort(_ context.Context, agentID string, port int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[agentID] != 0 {
		return warder.Errorf(warder.ErrConflict, "agent holds a port")
	}
	for _, p := range m.held {
		if p == port {
			return warder.Errorf(warder.ErrConflict, "port taken")
		}
	}
	m.held[agentID] = port
	return nil
}

// ReleasePort frees the agent's port.
func (m *Memory) ReleasePort(_ context.Context, agentID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, agentID)
	return nil
}

// UsedPorts lists every port held.
func (m *Memory) UsedPorts(context.Context) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for _, p := range m.held {
		out = append(out, p)
	}
	return out, nil
}

// PortOf is the port the agent holds, 0 for none.
func (m *Memory) PortOf(_ context.Context, agentID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[agentID], nil
}
