package service

import (
	"context"
	"fmt"
	"time"

	"github.com/warder/warder"
)

// An agent's status is decided here, and only here.
//
// Two things set it. What the user wants (start, stop, delete) moves it
// to an in-flight status while the runtime works: set records that
// step. What the runtime reports of the agent's workload — the state
// Runtime.Start reaches, an Inspect, a listing at resync, an event — is
// an observation: observed copies it into the record and derives the
// status from it with derive, the one transition function, writing
// only when something changed. The request path, the watch of the
// runtime's events and resync all go through observed, under the agent's
// lock, so they cannot race; and an event that tells nothing the record
// does not already show (news) is not even looked into: the start a
// request made comes back as an event saying "started", which finds the
// record running and is dropped, without bookkeeping of who wrote what.
//
// Health is an observation too: the runtime's health check, or Warder's
// own probes (health.go) while it has none.

// crashLoopRestarts is how many restarts in a row make a crash loop.
const crashLoopRestarts = 3

// derive is the truth table of agent status: what the agent's status should
// be, given what it was and the workload's state (nil: no such workload).
// It is pure so every case is table-tested.
func derive(a *warder.Agent, st *warder.WorkloadState) (warder.Status, string) {
	if st == nil {
		if a.ContainerID == "" {
			return a.Status, a.StatusReason
		}
		return warder.StatusMissing, "the container was removed outside Warder"
	}
	switch {
	case st.Restarting() && st.RestartCount >= crashLoopRestarts:
		return warder.StatusFailed, fmt.Sprintf("crash loop: restarted %d times, last exit code %d", st.RestartCount, st.ExitCode)
	case st.Restarting():
		return warder.StatusStarting, fmt.Sprintf("restarting after exit code %d", st.ExitCode)
	case st.Running():
		if a.Status == warder.StatusStopping {
			return a.Status, a.StatusReason // a stop is under way
		}
		return warder.StatusRunning, ""
	case st.Phase == warder.PhasePaused:
		switch a.Status {
		case warder.StatusStopping:
			return a.Status, a.StatusReason // a stop is under way
		case warder.StatusPaused:
			return a.Status, a.StatusReason
		}
		return warder.StatusPaused, "paused outside Warder"
	case a.Status == warder.StatusStopping, a.Status == warder.StatusStopped:
		return warder.StatusStopped, a.StatusReason
	case st.OOMKilled:
		return warder.StatusFailed, "OOMKilled: the agent ran out of memory (limit " + a.ContainerConfig.MemoryLimit + ")"
	case st.Phase == warder.PhaseCreated:
		if a.Status == warder.StatusStarting {
			return a.Status, a.StatusReason // a start is under way
		}
		return warder.StatusCreated, "container created but never started"
	case st.ExitCode != 0 && st.RestartCount >= crashLoopRestarts:
		return warder.StatusFailed, fmt.Sprintf("crash loop: exited with code %d after %d restarts", st.ExitCode, st.RestartCount)
	case st.Error != "":
		return warder.StatusFailed, "start failed: " + st.Error
	}
	return warder.StatusExited, fmt.Sprintf("exited with code %d", st.ExitCode)
}

// inFlight reports whether status means an operation was under way.
func inFlight(s warder.Status) bool {
	return s == warder.StatusStarting || s == warder.StatusStopping
}

// set moves a to status with reason, recording the change in the agent's
// history (and telling followers) when the status differs; other fields
// of a are written either way.
func (s *core) set(ctx context.Context, a *warder.Agent, to warder.Status, reason, actor string) error {
	from := a.Status
	a.Status, a.StatusReason = to, reason
	if from == to {
		return s.store.UpdateAgent(ctx, a)
	}
	a.StatusChangedAt = time.Now().UTC()
	ev := &warder.AgentEvent{AgentID: a.ID, At: a.StatusChangedAt, From: from, To: to, Reason: reason, Actor: actor}
	if err := s.store.RecordStatus(ctx, a, ev); err != nil {
		return err
	}
	s.publish(a, ev)
	return nil
}

// observed records what the runtime reports of a's workload (nil: it has
// none) and the status derive gives for it.
func (s *core) observed(ctx context.Context, a *warder.Agent, st *warder.WorkloadState, actor string) error {
	s.oomFlag(st)
	to, reason := derive(a, st)
	return s.record(ctx, a, st, to, reason, actor)
}

// record is observed with the status decided by the caller (derive's
// answer, amended: see Observer.reconcile and Agents.stop). It writes only
// what changed.
func (s *core) record(ctx context.Context, a *warder.Agent, st *warder.WorkloadState, to warder.Status, reason, actor string) error {
	s.oomFlag(st)
	before := *a
	s.observe(a, st)
	if to == before.Status && reason == before.StatusReason && sameObserved(&before, a) {
		return nil
	}
	return s.set(ctx, a, to, reason, actor)
}

// oomFlag adds an out-of-memory kill the runtime's event reported to
// st, whose own flag loses a race with the exit now and then.
func (s *core) oomFlag(st *warder.WorkloadState) {
	if st != nil && !st.Running() && s.work.wasOOMKilled(st.ID) {
		st.OOMKilled = true
	}
}

// observe copies what the runtime reports into the agent's record, and
// keeps, in the workload's handle, where it answers while it runs.
func (s *core) observe(a *warder.Agent, st *warder.WorkloadState) {
	a.Health = health(st)
	if st == nil {
		if a.ContainerID != "" {
			a.ContainerStatus = "removed"
			s.work.stopped(a.ContainerID)
		}
		return
	}
	a.ContainerStatus = string(st.Phase)
	a.RestartCount = st.RestartCount
	if ((!st.Running() && st.Phase != warder.PhasePaused) || st.Restarting()) && !st.FinishedAt.IsZero() {
		code := st.ExitCode
		a.ExitCode = &code
	}
	if !st.Running() && st.Phase != warder.PhasePaused {
		s.work.stopped(st.ID)
		return
	}
	s.work.remember(st)
	if st.Health == "" {
		a.Health = s.work.probedHealth(st.ID)
	}
}

// frozen records a pause (paused true) or a resume of a's workload: the
// runtime's Pauser reports no state, and what the workload reached is
// known (where it was, frozen or running again).
func (s *core) frozen(ctx context.Context, a *warder.Agent, paused bool, reason, actor string) error {
	to, phase := warder.StatusRunning, warder.PhaseRunning
	if paused {
		to, phase = warder.StatusPaused, warder.PhasePaused
	}
	a.ContainerStatus = string(phase)
	return s.set(ctx, a, to, reason, actor)
}

// probed records the health Warder's own probes found for a's running
// workload (one whose runtime reports none).
func (s *core) probed(ctx context.Context, a *warder.Agent, health string) error {
	if a.Health == health {
		return nil
	}
	a.Health = health
	return s.store.UpdateAgent(ctx, a)
}

func sameObserved(x, y *warder.Agent) bool {
	sameCode := (x.ExitCode == nil) == (y.ExitCode == nil) && (x.ExitCode == nil || *x.ExitCode == *y.ExitCode)
	return sameCode && x.ContainerStatus == y.ContainerStatus && x.RestartCount == y.RestartCount && x.ContainerID == y.ContainerID &&
		x.Health == y.Health
}

// health is the workload's health check result, which means something
// only while it runs: a stopped workload keeps its last one.
func health(st *warder.WorkloadState) string {
	if st == nil || !st.Running() || st.Restarting() {
		return ""
	}
	return st.Health
}

// news reports whether an event may say something a's record does not
// show already, and so must be looked into (an inspect). An event saying
// the agent's workload was created or started tells nothing new while
// the record shows it running; one saying it exited, nothing new while
// the record shows it ended. Such a record came from an observation made
// after the event (the start that caused it, or an earlier event's
// inspect): were the workload in another state now, a later event would
// say so, and that one is news. Every other event is news.
func news(a *warder.Agent, ev warder.WorkloadEvent) bool {
	if ev.ContainerID != a.ContainerID || inFlight(a.Status) {
		return true
	}
	switch ev.Kind {
	case warder.EventCreated, warder.EventStarted:
		return a.ContainerStatus != string(warder.PhaseRunning) || a.Status != warder.StatusRunning
	case warder.EventExited:
		return a.ContainerStatus != string(warder.PhaseExited) || a.Status == warder.StatusRunning
	case warder.EventPaused:
		return a.ContainerStatus != string(warder.PhasePaused) || a.Status != warder.StatusPaused
	case warder.EventResumed:
		return a.ContainerStatus != string(warder.PhaseRunning) || a.Status != warder.StatusRunning
	}
	return true
}

// interrupted reports whether a's in-flight status (if it has one) is
// left over from an operation that is no longer running. Operations of
// this process hold the agent's lock, so under the lock an in-flight
// status on an exclusive store is always left over; on a shared store it
// may be another process's, until it is older than any start can take.
func (s *core) interrupted(a *warder.Agent) bool {
	return inFlight(a.Status) && (s.exclusive || time.Since(a.StatusChangedAt) > s.startTimeout)
}

// publish tells followers of a status change.
func (s *core) publish(a *warder.Agent, ev *warder.AgentEvent) {
	if s.events == nil {
		return
	}
	s.events.Publish(warder.StatusChange{
		AgentID: a.ID, AgentName: a.Name, UserID: a.UserID, ContainerID: a.ContainerID,
		From: ev.From, To: ev.To, Reason: ev.Reason, Actor: ev.Actor, At: ev.At,
	})
}
