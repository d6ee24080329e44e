package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/warder/warder"
)

// touchEvery limits last_used_at writes: a stats poll every second need
// not write the database every second.
const touchEvery = 10 * time.Second

// touch records use of the agent, for idle auto-stop.
func (s *core) touch(ctx context.Context, a *warder.Agent) {
	now := time.Now().UTC()
	if now.Sub(a.LastUsedAt) < touchEvery {
		return
	}
	a.LastUsedAt = now
	if err := s.store.TouchAgent(ctx, a.ID, now); err != nil {
		s.log.WarnContext(ctx, "recording agent use", "agent", a.ID, "err", err)
	}
}

// idleSince is when the agent was last used or started, whichever is later.
func idleSince(a *warder.Agent) time.Time {
	if a.StatusChangedAt.After(a.LastUsedAt) {
		return a.StatusChangedAt
	}
	return a.LastUsedAt
}

// What counts as use of an agent, for both idle policies, is every call
// that goes through touch: chat, the proxy, exec, files, a terminal,
// logs, stats; each clock runs from the last use or the last change of
// status (a start, a pause, a resume), whichever is later, so a paused
// agent is stopped auto_stop_minutes after it was paused if nobody used
// it (docs/operations.md).

// PauseIdle pauses every running agent whose auto-pause time (its
// auto_pause_minutes, or the operator's default) has passed without use,
// on a runtime that can pause; it returns how many it paused.
func (s *Observer) PauseIdle(ctx context.Context, now time.Time) (int, error) {
	if s.rt.Parts().Pause == nil {
		return 0, nil // the idle stop alone applies (docs/kubernetes.md)
	}
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{Statuses: []warder.Status{warder.StatusRunning}})
	if err != nil {
		return 0, err
	}
	paused := 0
	for _, a := range agents {
		limit := s.pauseAfter(a)
		if a.Status != warder.StatusRunning || limit <= 0 || now.Sub(idleSince(a)) < limit {
			continue
		}
		if err := s.pauseIdle(ctx, a.ID, now, limit); err != nil {
			s.log.Error("idle auto-pause failed", "agent", a.ID, "err", err)
			continue
		}
		paused++
	}
	return paused, nil
}

// pauseAfter is how long the agent may go unused before it is paused; 0
// never.
func (s *Observer) pauseAfter(a *warder.Agent) time.Duration {
	m := a.ContainerConfig.AutoPauseMinutes
	if m == 0 {
		m = s.cfg.AutoPauseMinutes
	}
	if m <= 0 {
		return 0
	}
	return time.Duration(m * float64(time.Minute))
}

// pauseIdle re-checks the agent under its lock and pauses it.
func (s *Observer) pauseIdle(ctx context.Context, id string, now time.Time, limit time.Duration) error {
	defer s.locks.Lock(id)()
	a, err := s.store.Agent(ctx, id)
	if err != nil {
		return err
	}
	if a.Status != warder.StatusRunning || now.Sub(idleSince(a)) < limit {
		return nil
	}
	return s.agents.pause(ctx, a, "idle", fmt.Sprintf("auto-paused after %s without use", limit))
}

// StopIdle stops every running or paused agent whose auto_stop_minutes
// have passed without use; it returns how many it stopped.
func (s *Observer) StopIdle(ctx context.Context, now time.Time) (int, error) {
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{Statuses: []warder.Status{warder.StatusRunning, warder.StatusPaused}})
	if err != nil {
		return 0, err
	}
	stopped := 0
	for _, a := range agents {
		limit := time.Duration(a.ContainerConfig.AutoStopMinutes * float64(time.Minute))
		if limit <= 0 || now.Sub(idleSince(a)) < limit {
			continue
		}
		if err := s.stopIdle(ctx, a.ID, now, limit); err != nil {
			s.log.Error("idle auto-stop failed", "agent", a.ID, "err", err)
			continue
		}
		stopped++
	}
	return stopped, nil
}

// stopIdle re-checks the agent under its lock (it may have been used or
// stopped since it was listed) and stops it.
func (s *Observer) stopIdle(ctx context.Context, id string, now time.Time, limit time.Duration) error {
	defer s.locks.Lock(id)()
	a, err := s.store.Agent(ctx, id)
	if err != nil {
		return err
	}
	if (a.Status != warder.StatusRunning && a.Status != warder.StatusPaused) || now.Sub(idleSince(a)) < limit {
		return nil
	}
	return s.agents.stop(ctx, a, "idle", fmt.Sprintf("auto-stopped after %s without use", limit))
}

// RunMaintenance, every IdleInterval until ctx ends, stops idle agents,
// settles operations interrupted by another Warder process's death,
// deletes expired tokens and forgets old throttle counts; and it probes
// running agents' health. Among replicas only the leader runs it.
func (s *Observer) RunMaintenance(ctx context.Context) {
	var health sync.WaitGroup
	defer health.Wait()
	health.Go(func() { s.runHealth(ctx) })
	t := time.NewTicker(s.cfg.IdleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := s.PauseIdle(ctx, now.UTC()); err != nil {
				s.log.Error("looking for agents to pause", "err", err)
			} else if n > 0 {
				s.log.Info("auto-paused idle agents", "count", n)
			}
			if n, err := s.StopIdle(ctx, now.UTC()); err != nil {
				s.log.Error("looking for idle agents", "err", err)
			} else if n > 0 {
				s.log.Info("auto-stopped idle agents", "count", n)
			}
			if err := s.settleStale(ctx); err != nil {
				s.log.Error("settling interrupted operations", "err", err)
			}
			s.auth.tidy(ctx, now.UTC())
		}
	}
}

// settleStale reconciles agents left in flight by an operation that is no
// longer running (see interrupted).
func (s *Observer) settleStale(ctx context.Context) error {
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{Statuses: []warder.Status{warder.StatusStarting, warder.StatusStopping}})
	if err != nil {
		return err
	}
	for _, a := range agents {
		if s.interrupted(a) {
			if err := s.reconcile(ctx, a.ID, reconcileOpts{actor: "resync", interrupted: true}); err != nil {
				return err
			}
		}
	}
	return nil
}
