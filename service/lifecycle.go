package service

import (
	"context"
	"errors"
	"time"

	"github.com/warder/warder"
)

// actor names a user in an agent's history.
func actor(u *warder.User) string { return "user:" + u.Username }

// locked loads an agent the caller may see, under the agent's lock, marks
// it used, and runs op. Every lifecycle operation goes through here.
func (s *Service) locked(ctx context.Context, caller *warder.User, id string, op func(a *warder.Agent) error) (*warder.Agent, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	s.touch(ctx, a)
	return a, op(a)
}

// StartAgent creates the agent's container when it has none, then starts
// it. Starting a running agent succeeds.
func (s *Service) StartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		return s.start(ctx, caller, a)
	})
}

// start runs under the agent's lock, for every path that starts an agent,
// and first asks mayStart. The agent is "starting" in the store while it
// works, so a Warder killed half-way is noticed at its next start-up; if
// the runtime goes away meanwhile the old status is put back.
func (s *Service) start(ctx context.Context, caller *warder.User, a *warder.Agent) error {
	if err := s.mayStart(ctx, caller, a); err != nil {
		return err
	}
	who := actor(caller)
	if a.ContainerID != "" {
		// Already running: nothing to do, and nothing for the history.
		st, err := s.rt.Inspect(ctx, a.ContainerID)
		if err == nil && st.Running() && !st.Restarting() {
			observe(a, &st)
			s.observeHealth(a, &st)
			return s.transition(ctx, a, warder.StatusRunning, "", who)
		}
	}
	prev, prevReason := a.Status, a.StatusReason
	if err := s.admit(ctx, a, who); err != nil {
		return err
	}
	claimed, err := s.ensureContainer(ctx, a, true)
	if err == nil && !claimed { // a claimed workload runs already
		err = s.rt.Start(ctx, a.ContainerID)
	}
	if err != nil && !errors.Is(err, warder.ErrUnavailable) && a.ContainerID != "" {
		// The runtime would not start the workload: on Docker most often
		// because its host port was taken since it was claimed (the
		// runtime then avoids that port). Start over once, with a new one.
		s.log.WarnContext(ctx, "start failed; retrying with a new container", "agent", a.ID, "err", err)
		if err = s.discardContainer(ctx, a); err == nil {
			if _, err = s.ensureContainer(ctx, a, false); err == nil {
				err = s.rt.Start(ctx, a.ContainerID)
			}
		}
		if err != nil && warder.ErrorMessage(err) == "" && !errors.Is(err, warder.ErrUnavailable) {
			err = warder.Errorf(warder.ErrConflict, "the agent's container could not be started: %v", err)
		}
	}
	// Record the outcome even if the caller has gone away.
	ctx = context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, warder.ErrUnavailable):
		if terr := s.transition(ctx, a, prev, prevReason, who); terr != nil {
			s.log.ErrorContext(ctx, "restoring status after the runtime went away", "agent", a.ID, "err", terr)
		}
		return err
	case err != nil:
		// A failed agent holds neither a container nor (the runtime sees
		// to it) a port.
		if a.ContainerID != "" {
			if derr := s.discardContainer(ctx, a); derr != nil {
				s.log.ErrorContext(ctx, "removing the container of a failed start", "agent", a.ID, "err", derr)
			}
		}
		if terr := s.transition(ctx, a, warder.StatusFailed, "start failed: "+errText(err), who); terr != nil {
			s.log.ErrorContext(ctx, "recording failed start", "agent", a.ID, "err", terr)
		}
		return err
	}
	began := time.Now()
	st, err := s.containerOf(ctx, a, nil)
	if err != nil {
		if claimed {
			// Not recorded yet: the next event or resync finds it.
			if uerr := s.store.UpdateAgent(ctx, a); uerr != nil {
				s.log.ErrorContext(ctx, "recording a claimed container", "agent", a.ID, "err", uerr)
			}
		}
		return err
	}
	observe(a, st)
	s.observeHealth(a, st)
	to, reason := derive(a, st)
	if to == warder.StatusStarting && st != nil && st.Running() {
		to, reason = warder.StatusRunning, ""
	}
	if err := s.transition(ctx, a, to, reason, who); err != nil {
		return err
	}
	s.noteRecorded(a.ContainerID, began, st != nil && st.Running())
	return nil
}

// admit checks the owner's running quotas and records the start, under
// the owner's quota lock, so concurrent starts cannot together pass a
// limit that each alone respects.
func (s *Service) admit(ctx context.Context, a *warder.Agent, who string) error {
	unlock, err := s.quotaLock(ctx, a.UserID)
	if err != nil {
		return err
	}
	defer unlock()
	if !holdsResources(a.Status) {
		if err := s.checkStart(ctx, a); err != nil {
			return err
		}
	}
	return s.transition(ctx, a, warder.StatusStarting, "", who)
}

// discardContainer removes the agent's workload (the runtime gives up its
// port), and records that it has none.
func (s *Service) discardContainer(ctx context.Context, a *warder.Agent) error {
	if err := s.rt.Remove(ctx, a.ContainerID); err != nil {
		return err
	}
	s.forget(a.ContainerID)
	a.ContainerID, a.ContainerName, a.ContainerStatus = "", "", ""
	return s.store.UpdateAgent(ctx, a) // reads back the port the agent holds
}

// errText is what a user may read of an error.
func errText(err error) string {
	if m := warder.ErrorMessage(err); m != "" {
		return m
	}
	return "internal error"
}

// ensureContainer makes sure a.ContainerID names an existing workload,
// creating one when needed; the runtime claims or releases the agent's
// host port as the spec asks. warm (a start, which runs the workload
// anyway) first asks the runtime's warm pool for a running one: claimed
// says it got one, which the caller records with the start's outcome (a
// claim not recorded when Warder dies is removed by the next resync).
func (s *Service) ensureContainer(ctx context.Context, a *warder.Agent, warm bool) (claimed bool, err error) {
	if a.ContainerID != "" {
		st, err := s.rt.Inspect(ctx, a.ContainerID)
		switch {
		case err == nil && !s.lacksPort(a, st):
			return false, nil
		case err == nil:
			// Made for the files calls alone (filesContainer): replaced by
			// one that publishes the agent's port; the workspace stays.
			// Not from the warm pool, whose containers bring a fresh one.
			if err := s.discardContainer(ctx, a); err != nil {
				return false, err
			}
			warm = false
		case !errors.Is(err, warder.ErrNotFound):
			return false, err
		default:
			a.ContainerID, a.ContainerName = "", ""
		}
	}
	spec, err := warder.SpecFor(a, s.specSettings())
	if err != nil {
		return false, err
	}
	if err := s.withSecrets(ctx, a, &spec); err != nil {
		return false, err
	}
	if warm {
		if cid := s.claimWarm(ctx, spec); cid != "" {
			a.ContainerID, a.ContainerName = cid, spec.Name
			return true, nil
		}
	}
	cid, err := s.rt.Create(ctx, spec)
	if err != nil {
		return false, err
	}
	a.ContainerID, a.ContainerName = cid, spec.Name
	return false, s.store.UpdateAgent(ctx, a) // reads back the port the runtime claimed
}

// StopAgent stops the agent's container; its container and port are kept
// for the next start.
func (s *Service) StopAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		return s.stop(ctx, a, actor(caller), "stopped by "+caller.Username)
	})
}

// stop runs under the agent's lock.
func (s *Service) stop(ctx context.Context, a *warder.Agent, who, reason string) error {
	if a.ContainerID == "" || a.Status == warder.StatusCreated {
		// (A container made for the files calls alone is never started.)
		return warder.Errorf(warder.ErrConflict, "agent has no container: it has never been started")
	}
	prev, prevReason := a.Status, a.StatusReason
	if err := s.transition(ctx, a, warder.StatusStopping, reason, who); err != nil {
		return err
	}
	err := s.rt.Stop(ctx, a.ContainerID, s.cfg.StopTimeout)
	ctx = context.WithoutCancel(ctx)
	if errors.Is(err, warder.ErrNotFound) {
		observe(a, nil)
		if terr := s.transition(ctx, a, warder.StatusMissing, "the container was removed outside Warder", who); terr != nil {
			return terr
		}
		return warder.Errorf(warder.ErrConflict, "agent container no longer exists; start the agent to create a new one")
	}
	if err != nil {
		if terr := s.transition(ctx, a, prev, prevReason, who); terr != nil {
			s.log.ErrorContext(ctx, "restoring status after a failed stop", "agent", a.ID, "err", terr)
		}
		return err
	}
	began := time.Now()
	st, err := s.containerOf(ctx, a, nil)
	if err == nil {
		observe(a, st)
		s.observeHealth(a, st)
	}
	if terr := s.transition(ctx, a, warder.StatusStopped, reason, who); terr != nil {
		return terr
	}
	if err == nil {
		s.noteRecorded(a.ContainerID, began, st != nil && st.Running())
	}
	return nil
}

// RestartAgent stops the agent when it has a running container, then
// starts it, all under one lock.
func (s *Service) RestartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		if a.ContainerID != "" {
			err := s.stop(ctx, a, actor(caller), "restarted by "+caller.Username)
			if err != nil && !errors.Is(err, warder.ErrConflict) {
				return err
			}
		}
		return s.start(ctx, caller, a)
	})
}

// specSettings are the operator's spec settings, with workspaces only
// while the runtime has them: what an engine can do may be learnt only
// once it answers (Podman has none; docs/podman.md).
func (s *Service) specSettings() warder.SpecSettings {
	settings := s.cfg.Spec
	settings.Workspaces = settings.Workspaces && s.rt.Parts().Workspaces != nil
	return settings
}
