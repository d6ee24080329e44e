package service

import (
	"context"
	"time"

	"github.com/warder/warder"
)

// statsOf loads an agent whose stats the caller may read: one with a
// running container. Any other is a conflict that says why.
func (s *Observer) statsOf(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	s.touch(ctx, a)
	if a, err = s.agents.wake(ctx, caller, a, "stats"); err != nil {
		return nil, err
	}
	if a.ContainerID == "" {
		return nil, warder.Errorf(warder.ErrConflict, "agent has no container: start it first")
	}
	if a.Status != warder.StatusRunning {
		return nil, warder.Errorf(warder.ErrConflict, "agent container is not running (agent status: %s)", a.Status)
	}
	return a, nil
}

// AgentStatsHistory returns the collector's samples of the last d.
func (s *Observer) AgentStatsHistory(ctx context.Context, caller *warder.User, id string, d time.Duration) ([]warder.Stats, error) {
	if d <= 0 {
		return nil, warder.Errorf(warder.ErrInvalid, "history must be a positive duration such as 5m")
	}
	a, err := s.statsOf(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if s.cfg.Stats == nil {
		return nil, warder.Errorf(warder.ErrUnavailable, "stats history is not kept by this server")
	}
	list, err := s.cfg.Stats.History(ctx, a.ContainerID, time.Now().Add(-d))
	return list, gone(err)
}

// WatchAgentStats streams the collector's samples of the agent.
func (s *Observer) WatchAgentStats(ctx context.Context, caller *warder.User, id string, ready func(), fn func(warder.Stats) error) error {
	a, err := s.statsOf(ctx, caller, id)
	if err != nil {
		return err
	}
	if s.cfg.Stats == nil {
		return warder.Errorf(warder.ErrUnavailable, "stats streams are not served by this server")
	}
	ready()
	return gone(s.cfg.Stats.Watch(ctx, a.ContainerID, fn))
}

// StreamAgentLogs sends the agent's output line by line. With Follow,
// Lines 0 means no earlier lines, only new ones; warder.AllLines is every
// line, followed or not.
func (s *Observer) StreamAgentLogs(ctx context.Context, caller *warder.User, id string, opts warder.LogOptions, ready func(), fn func(warder.LogLine) error) error {
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return err
	}
	s.touch(ctx, a)
	least := 1
	if opts.Follow {
		least = 0
	}
	all := opts.Lines == warder.AllLines
	if !all && (opts.Lines < least || opts.Lines > MaxLogLines) {
		return warder.Errorf(warder.ErrInvalid, "lines must be between %d and %d, or all", least, MaxLogLines)
	}
	if a.ContainerID == "" {
		return warder.Errorf(warder.ErrConflict, "agent has no container: start it first")
	}
	if opts.Follow {
		if a, err = s.agents.wake(ctx, caller, a, "logs"); err != nil {
			return err
		}
	}
	if opts.Follow && opts.Lines == 0 {
		if now := time.Now(); opts.Since.Before(now) {
			opts.Since = now
		}
	}
	if all {
		opts.Lines = 0 // the runtimes' every line; a stream has no size bound
	}
	ready()
	return gone(s.rt.StreamLogs(ctx, a.ContainerID, opts, fn))
}

// WatchEvents streams the status changes of the agents the caller may
// see; after > 0 replays the kept changes numbered after it first.
func (s *Observer) WatchEvents(ctx context.Context, caller *warder.User, after int64, ready func(), fn func(warder.StatusChange) error) error {
	if s.events == nil {
		return warder.Errorf(warder.ErrUnavailable, "event streams are not served by this server")
	}
	// Subscribed before the replay is read: a change recorded meanwhile
	// is in one or the other (or both: seen skips it the second time).
	changes, cancel := s.events.Subscribe()
	defer cancel()
	var missed []warder.StatusChange
	if after > 0 {
		var err error
		if missed, err = s.events.Since(ctx, after); err != nil {
			return err
		}
	}
	ready()
	seen := after
	send := func(c warder.StatusChange) error {
		if c.ID != 0 && c.ID <= seen {
			return nil
		}
		seen = max(seen, c.ID)
		if c.UserID != caller.ID && !caller.IsAdmin() {
			return nil
		}
		return fn(c)
	}
	for _, c := range missed {
		if err := send(c); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			if err := send(c); err != nil {
				return err
			}
		}
	}
}
