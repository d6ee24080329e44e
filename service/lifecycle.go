package service

import (
	"context"
	"errors"

	"github.com/warder/warder"
)

// actor names a user in an agent's history.
func actor(u *warder.User) string { return "user:" + u.Username }

// locked loads an agent the caller may see, under the agent's lock, and
// runs op. Every lifecycle operation goes through here.
func (s *core) locked(ctx context.Context, caller *warder.User, id string, op func(a *warder.Agent) error) (*warder.Agent, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	return a, op(a)
}

// StartAgent creates the agent's workload when it has none, then starts
// it. Starting a running agent succeeds.
func (s *Agents) StartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		return s.start(ctx, caller, a)
	})
}

// start runs under the agent's lock, for every path that starts an agent,
// and first asks mayStart. The agent is "starting" in the store while it
// works, so a Warder killed half-way is noticed at its next start-up; if
// the runtime goes away meanwhile the old status is put back. What the
// runtime's Start reports is the observation recorded: no inspect follows,
// and the runtime's own events about the start find the record agreeing
// with them (see news).
func (s *Agents) start(ctx context.Context, caller *warder.User, a *warder.Agent) error {
	if err := s.mayStart(ctx, caller, a); err != nil {
		return err
	}
	who := actor(caller)
	if a.Status == warder.StatusPaused {
		return s.resume(ctx, a, who) // a start of a paused agent resumes it
	}
	var known *warder.WorkloadState
	if a.ContainerID != "" {
		st, err := s.rt.Inspect(ctx, a.ContainerID)
		if err == nil && st.Running() && !st.Restarting() {
			// Already running: nothing to do, and nothing for the
			// history.
			s.touch(ctx, a)
			return s.observed(ctx, a, &st, who)
		}
		if err == nil {
			known = &st
		}
	}
	prev, prevReason := a.Status, a.StatusReason
	if err := s.admit(ctx, a, who); err != nil {
		return err
	}
	st, err := s.run(ctx, a, known)
	// Record the outcome even if the caller has gone away.
	ctx = context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, warder.ErrUnavailable):
		if serr := s.set(ctx, a, prev, prevReason, who); serr != nil {
			s.log.ErrorContext(ctx, "restoring status after the runtime went away", "agent", a.ID, "err", serr)
		}
		return err
	case err != nil:
		// A failed agent holds neither a workload nor (the runtime sees
		// to it) a port.
		if a.ContainerID != "" {
			if derr := s.discard(ctx, a); derr != nil {
				s.log.ErrorContext(ctx, "removing the workload of a failed start", "agent", a.ID, "err", derr)
			}
		}
		if serr := s.set(ctx, a, warder.StatusFailed, "start failed: "+errText(err), who); serr != nil {
			s.log.ErrorContext(ctx, "recording failed start", "agent", a.ID, "err", serr)
		}
		return err
	}
	to, reason := derive(a, &st)
	if to == warder.StatusStarting && st.Running() {
		to, reason = warder.StatusRunning, ""
	}
	return s.record(ctx, a, &st, to, reason, who)
}

// run makes sure the agent has a workload (from the warm pool, or made)
// and starts it, retrying once with a new one; it returns the state the
// workload reached.
func (s *Agents) run(ctx context.Context, a *warder.Agent, known *warder.WorkloadState) (warder.WorkloadState, error) {
	st, claimed, err := s.ensureWorkload(ctx, a, known, true)
	if err == nil && !claimed { // a claimed workload runs already
		st, err = s.rt.Start(ctx, a.ContainerID)
	}
	if err == nil || errors.Is(err, warder.ErrUnavailable) || a.ContainerID == "" {
		return st, err
	}
	// The runtime would not start the workload: on Docker most often
	// because its host port was taken since it was claimed (the runtime
	// then avoids that port). Start over once, with a new one.
	s.log.WarnContext(ctx, "start failed; retrying with a new workload", "agent", a.ID, "err", err)
	if err = s.discard(ctx, a); err == nil {
		if _, _, err = s.ensureWorkload(ctx, a, nil, false); err == nil {
			st, err = s.rt.Start(ctx, a.ContainerID)
		}
	}
	if err != nil && warder.ErrorMessage(err) == "" && !errors.Is(err, warder.ErrUnavailable) {
		err = warder.Errorf(warder.ErrConflict, "the agent's container could not be started: %v", err)
	}
	return st, err
}

// admit checks the owner's running quotas and records the start, under
// the owner's quota lock, so concurrent starts cannot together pass a
// limit that each alone respects.
func (s *Agents) admit(ctx context.Context, a *warder.Agent, who string) error {
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
	return s.set(ctx, a, warder.StatusStarting, "", who)
}

// discard removes the agent's workload (the runtime gives up its port),
// and records that it has none.
func (s *Agents) discard(ctx context.Context, a *warder.Agent) error {
	if err := s.rt.Remove(ctx, a.ContainerID); err != nil {
		return err
	}
	s.work.removed(a.ContainerID)
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

// ensureWorkload makes sure a.ContainerID names an existing workload,
// creating one when needed; the runtime claims or releases the agent's
// host port as the spec asks. warm (a start, which runs the workload
// anyway) first asks the runtime's warm pool for a running one: claimed
// says it got one, whose state st is. The new id is recorded with the
// start's outcome, not before: a workload made, or claimed, by a Warder
// that dies before recording it is found by the next resync (adopted by
// its name, or removed if it was a claim). known is the recorded
// workload's state when the caller has just inspected it.
func (s *Agents) ensureWorkload(ctx context.Context, a *warder.Agent, known *warder.WorkloadState, warm bool) (st warder.WorkloadState, claimed bool, err error) {
	if a.ContainerID != "" {
		var cur warder.WorkloadState
		var err error
		if known != nil {
			cur = *known
		} else {
			cur, err = s.rt.Inspect(ctx, a.ContainerID)
		}
		switch {
		case err == nil && !s.lacksPort(a, cur):
			return cur, false, nil
		case err == nil:
			// Made for the files calls alone (filesWorkload): replaced by
			// one that publishes the agent's port; the workspace stays.
			// Not from the warm pool, whose workloads bring a fresh one.
			if err := s.discard(ctx, a); err != nil {
				return st, false, err
			}
			warm = false
		case !errors.Is(err, warder.ErrNotFound):
			return st, false, err
		default:
			a.ContainerID, a.ContainerName = "", ""
		}
	}
	spec, err := warder.SpecFor(a, s.specSettings())
	if err != nil {
		return st, false, err
	}
	if err := s.withSecrets(ctx, a, &spec); err != nil {
		return st, false, err
	}
	if warm {
		if st, ok := s.claimWarm(ctx, spec); ok {
			a.ContainerID, a.ContainerName = st.ID, spec.Name
			return st, true, nil
		}
	}
	cid, err := s.rt.Create(ctx, spec)
	if err != nil {
		return st, false, err
	}
	a.ContainerID, a.ContainerName = cid, spec.Name
	return st, false, nil
}

// lacksPort reports that the agent's container st was made for its
// files alone: the runtime publishes ports and the agent's spec asks for
// one, but the container is published on none.
func (s *Agents) lacksPort(a *warder.Agent, st warder.WorkloadState) bool {
	if !s.rt.Info().HostPorts || st.HostPort != 0 {
		return false
	}
	spec, err := warder.SpecFor(a, s.specSettings())
	return err == nil && spec.Publish
}

// filesWorkload makes sure the agent has a container whose workspace
// the files calls reach. One made for that alone publishes no port, so
// an agent that never runs holds none; a start replaces it with one that
// does (see ensureWorkload). Making one is a change a read-only key
// may not make. Runs under the agent's lock.
func (s *Agents) filesWorkload(ctx context.Context, a *warder.Agent, readOnly bool) error {
	if a.ContainerID != "" {
		_, err := s.rt.Inspect(ctx, a.ContainerID)
		if err == nil || !errors.Is(err, warder.ErrNotFound) {
			return err
		}
	}
	if readOnly {
		return warder.Errorf(warder.ErrConflict, "the agent has no container now, so its workspace cannot be read with a read-only key: start it, or use a key that may write")
	}
	a.ContainerID, a.ContainerName = "", ""
	spec, err := warder.SpecFor(a, s.specSettings())
	if err != nil {
		return err
	}
	if err := s.withSecrets(ctx, a, &spec); err != nil {
		return err
	}
	spec.Publish = false
	cid, err := s.rt.Create(ctx, spec)
	if err != nil {
		return err
	}
	a.ContainerID, a.ContainerName = cid, spec.Name
	return s.store.UpdateAgent(ctx, a)
}

// StopAgent stops the agent's workload; its workload and workspace are
// kept for the next start.
func (s *Agents) StopAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		return s.stop(ctx, a, actor(caller), "stopped by "+caller.Username)
	})
}

// stop runs under the agent's lock.
func (s *Agents) stop(ctx context.Context, a *warder.Agent, who, reason string) error {
	if a.ContainerID == "" || a.Status == warder.StatusCreated {
		// (A workload made for the files calls alone is never started.)
		return warder.Errorf(warder.ErrConflict, "agent has no container: it has never been started")
	}
	prev, prevReason := a.Status, a.StatusReason
	if err := s.set(ctx, a, warder.StatusStopping, reason, who); err != nil {
		return err
	}
	err := s.rt.Stop(ctx, a.ContainerID, s.cfg.StopTimeout)
	ctx = context.WithoutCancel(ctx)
	if errors.Is(err, warder.ErrNotFound) {
		if serr := s.record(ctx, a, nil, warder.StatusMissing, "the container was removed outside Warder", who); serr != nil {
			return serr
		}
		return warder.Errorf(warder.ErrConflict, "agent container no longer exists; start the agent to create a new one")
	}
	if err != nil {
		if serr := s.set(ctx, a, prev, prevReason, who); serr != nil {
			s.log.ErrorContext(ctx, "restoring status after a failed stop", "agent", a.ID, "err", serr)
		}
		return err
	}
	st, err := s.containerOf(ctx, a, nil)
	if err != nil {
		// Stopped, but what it left is not known: the watch tells.
		return s.set(ctx, a, warder.StatusStopped, reason, who)
	}
	return s.record(ctx, a, st, warder.StatusStopped, reason, who)
}

// RestartAgent stops the agent when it has a running workload, then
// starts it, all under one lock.
func (s *Agents) RestartAgent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
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
func (s *Agents) specSettings() warder.SpecSettings {
	settings := s.cfg.Spec
	settings.Workspaces = settings.Workspaces && s.rt.Parts().Workspaces != nil
	return settings
}
