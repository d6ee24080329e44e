package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/warder/warder"
)

// PauseAgent freezes a running agent: its processes keep their memory,
// its port stays its own, and it uses no CPU until it is resumed, by
// ResumeAgent or by the next request that needs it (wake).
func (s *Agents) PauseAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		if caller.ReadOnly {
			return warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot pause agents")
		}
		return s.pause(ctx, a, actor(caller), "paused by "+caller.Username)
	})
}

// ResumeAgent thaws a paused agent. Resuming a running one succeeds.
func (s *Agents) ResumeAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		if caller.ReadOnly {
			return warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot resume agents")
		}
		if a.Status == warder.StatusRunning {
			return nil
		}
		return s.resume(ctx, a, actor(caller))
	})
}

// pauser is the runtime's Pause part, or ErrNotSupported naming what to
// do instead.
func (s *Agents) pauser() (warder.Pauser, error) {
	if p := s.rt.Parts().Pause; p != nil {
		return p, nil
	}
	return nil, warder.Errorf(warder.ErrNotSupported, "the %s runtime cannot pause agents: stop the agent instead (its workspace is kept)", s.rt.Info().Name)
}

// pause runs under the agent's lock. Pausing a paused agent succeeds.
func (s *Agents) pause(ctx context.Context, a *warder.Agent, who, reason string) error {
	p, err := s.pauser()
	if err != nil {
		return err
	}
	switch {
	case a.Status == warder.StatusPaused:
		return nil
	case a.Status != warder.StatusRunning || a.ContainerID == "":
		return warder.Errorf(warder.ErrConflict, "only a running agent can be paused: this one is %s", a.Status)
	}
	if err := p.Pause(ctx, a.ContainerID); err != nil {
		if errors.Is(err, warder.ErrConflict) || errors.Is(err, warder.ErrNotFound) {
			// Not running after all: the record is put right first.
			return s.settleRefused(ctx, a, who, "paused", err)
		}
		return err
	}
	return s.frozen(context.WithoutCancel(ctx), a, true, reason, who)
}

// resume runs under the agent's lock, on a paused agent.
func (s *Agents) resume(ctx context.Context, a *warder.Agent, who string) error {
	if a.Status != warder.StatusPaused {
		return warder.Errorf(warder.ErrConflict, "the agent is not paused: it is %s", a.Status)
	}
	p, err := s.pauser()
	if err != nil {
		return err
	}
	if err := p.Resume(ctx, a.ContainerID); err != nil {
		if errors.Is(err, warder.ErrConflict) || errors.Is(err, warder.ErrNotFound) {
			if serr := s.settleRefused(ctx, a, who, "resumed", err); serr != nil || a.Status == warder.StatusRunning {
				return serr
			}
			return warder.Errorf(warder.ErrConflict, "the agent could not be resumed: it is %s (%s)", a.Status, a.StatusReason)
		}
		return err
	}
	return s.frozen(context.WithoutCancel(ctx), a, false, "", who)
}

// settleRefused records what the runtime shows of a workload that refused
// a pause or resume (stopped, or removed, outside Warder), and says so.
func (s *Agents) settleRefused(ctx context.Context, a *warder.Agent, who, what string, refused error) error {
	st, err := s.containerOf(ctx, a, nil)
	if err != nil {
		return err
	}
	if err := s.observed(context.WithoutCancel(ctx), a, st, who); err != nil {
		return err
	}
	if a.Status == warder.StatusRunning && what == "resumed" {
		return nil // resumed meanwhile, by another replica
	}
	return warder.Errorf(warder.ErrConflict, "the agent could not be %s: it is %s (%v)", what, a.Status, warder.ErrorMessage(refused))
}

// wake resumes a paused agent on a request that needs it (chat, the
// proxy, exec, files, a terminal, following logs, stats), as the
// caller: transparently, a little slower. Any other agent is returned as
// it is. What it returns is the agent as it is now.
func (s *Agents) wake(ctx context.Context, caller *warder.User, a *warder.Agent, why string) (*warder.Agent, error) {
	if a.Status != warder.StatusPaused {
		return a, nil
	}
	return s.locked(ctx, caller, a.ID, func(a *warder.Agent) error {
		if a.Status != warder.StatusPaused {
			return nil // resumed meanwhile
		}
		s.touch(ctx, a)
		return s.resume(ctx, a, fmt.Sprintf("%s (%s)", actor(caller), why))
	})
}

// wakeLocked is wake under the agent's lock, held by the caller.
func (s *Agents) wakeLocked(ctx context.Context, caller *warder.User, a *warder.Agent, why string) error {
	if a.Status != warder.StatusPaused {
		return nil
	}
	return s.resume(ctx, a, fmt.Sprintf("%s (%s)", actor(caller), why))
}
