package service

import (
	"context"
	"errors"

	"github.com/warder/warder"
)

// allocatePort claims the lowest port in the range, other than avoid, that
// no agent holds and nothing else on the host listens on. The claim itself is atomic in the
// store, so processes sharing one database never hand out a port twice;
// portMu only keeps this process from racing itself.
func (s *Service) allocatePort(ctx context.Context, agentID string, avoid int) (int, error) {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	used, err := s.store.UsedPorts(ctx)
	if err != nil {
		return 0, err
	}
	held := make(map[int]bool, len(used))
	for _, p := range used {
		held[p] = true
	}
	for p := s.cfg.PortStart; p <= s.cfg.PortEnd; p++ {
		if held[p] || p == avoid || !s.cfg.PortFree(p) {
			continue
		}
		err := s.store.ClaimPort(ctx, agentID, p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, warder.ErrConflict) {
			return 0, err
		}
	}
	return 0, warder.Errorf(warder.ErrConflict, "no free host port in the agent port range %d-%d", s.cfg.PortStart, s.cfg.PortEnd)
}
