package service

import (
	"context"
	"errors"

	"github.com/warder/warder"
)

// claimWarm asks the runtime's warm pool for a running workload for spec
// and returns its state, or false when the start must create one: no pool, none
// that fits (another image, a workspace that exists already, ...), an
// empty pool, or a hand-over that failed (the runtime removed what it
// had claimed).
func (s *Agents) claimWarm(ctx context.Context, spec warder.WorkloadSpec) (warder.WorkloadState, bool) {
	wp := s.rt.Parts().WarmPool
	if wp == nil {
		return warder.WorkloadState{}, false
	}
	st, err := wp.Claim(ctx, spec)
	switch {
	case err == nil:
		return st, true
	case errors.Is(err, warder.ErrNotFound):
		s.log.DebugContext(ctx, "cold start", "agent", spec.AgentID, "why", err)
	default:
		s.log.WarnContext(ctx, "warm start failed; starting cold", "agent", spec.AgentID, "err", err)
	}
	return warder.WorkloadState{}, false
}
