package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/warder/warder"
)

// Watch follows the runtime's event stream until ctx ends, reconciling an
// agent whenever its container changes. Each time the stream (re)opens it
// resyncs everything, so changes made while it was down (or while Warder
// was not running) are picked up. While the runtime is unreachable it
// retries with backoff from 1 s to 30 s.
func (s *Observer) Watch(ctx context.Context) {
	// Every reconcile it starts has ended by the time it returns.
	var reconciles sync.WaitGroup
	defer reconciles.Wait()
	delay := time.Second
	for ctx.Err() == nil {
		opened := false
		err := s.rt.Events(ctx, func() {
			opened = true
			s.runtimeUp.Store(true)
			delay = time.Second
			if err := s.Resync(ctx); err != nil {
				s.log.Error("resync failed", "err", err)
			} else {
				s.log.Info("resynced agents with containers")
			}
		}, func(ev warder.WorkloadEvent) { s.onEvent(ctx, ev, &reconciles) })
		if ctx.Err() != nil {
			return
		}
		s.runtimeUp.Store(false)
		if opened {
			s.log.Warn("runtime event stream lost; reconnecting", "err", err)
		} else if !errors.Is(err, warder.ErrUnavailable) {
			s.log.Error("runtime event stream failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// onEvent takes one event of the runtime's stream, in the stream's order.
func (s *Observer) onEvent(ctx context.Context, ev warder.WorkloadEvent, reconciles *sync.WaitGroup) {
	if ev.AgentID == "" {
		return
	}
	switch ev.Kind {
	case warder.EventOOMKilled:
		s.work.setOOMKilled(ev.ContainerID, true)
	case warder.EventStarted:
		s.work.setOOMKilled(ev.ContainerID, false)
	}
	// One goroutine per event: reconcile waits for the agent's lock,
	// which a start in progress may hold for a second, and must not hold
	// up other agents' events. It inspects under the lock, so the last
	// one to run sees the latest state.
	reconciles.Go(func() { s.reconcileEvent(ctx, ev) })
}

// reconcileEvent reconciles the agent of ev. While another process
// sharing the store starts or stops it, it waits and tries again: that
// process records what it did, then this one what the event changed
// since (a crash right after the start, say), if anything.
func (s *Observer) reconcileEvent(ctx context.Context, ev warder.WorkloadEvent) {
	if ev.Kind == warder.EventRemoved {
		defer s.work.removed(ev.ContainerID) // whatever was kept of it
	}
	if ev.Kind == warder.EventRemoved && !s.exclusive {
		// Another process deleting the agent removes its container
		// first and its record a moment later; give it that moment, so
		// the agent is not reported missing on its way out.
		select {
		case <-ctx.Done():
			return
		case <-time.After(removedGrace):
		}
	}
	for {
		err := s.reconcile(ctx, ev.AgentID, reconcileOpts{actor: s.rt.Info().Name, event: &ev})
		if !errors.Is(err, errElsewhere) {
			if err != nil && ctx.Err() == nil {
				s.log.Error("reconciling agent after event", "agent", ev.AgentID, "event", ev.Kind, "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// removedGrace is how long, on a store shared by several processes, the
// removal of a container waits before it is reconciled.
const removedGrace = 2 * time.Second

// RuntimeUp reports whether the runtime's event stream is open.
func (s *Observer) RuntimeUp() bool { return s.runtimeUp.Load() }
