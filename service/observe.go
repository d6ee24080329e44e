package service

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
)

// Observer keeps agents' records true to their workloads — the runtime's
// events, resync, health probes — stops idle agents, and serves what
// callers read of agents as they run: logs, stats and status changes.
type Observer struct {
	*core
	agents    *Agents
	auth      *Auth
	client    warder.AgentClient // health probes; nil probes nothing
	cfg       ObserveConfig
	runtimeUp atomic.Bool // the runtime's event stream is open
}

// ObserveConfig is what observing needs.
type ObserveConfig struct {
	// IdleInterval is how often idle agents are looked for.
	IdleInterval time.Duration
	// HealthEvery is how often running agents' /health is probed
	// (default 10 s).
	HealthEvery time.Duration
	// AutoPauseMinutes pauses running agents unused that long, unless
	// their own auto_pause_minutes says otherwise; 0 never
	// (WARDER_AUTO_PAUSE_MINUTES).
	AutoPauseMinutes float64
	// Stats answers stats reads from samples already taken; nil means
	// asking the runtime on every read (and no history or streams).
	Stats warder.StatsReader
}

func newObserver(c *core, agents *Agents, auth *Auth, client warder.AgentClient, cfg ObserveConfig) *Observer {
	if cfg.IdleInterval == 0 {
		cfg.IdleInterval = 30 * time.Second
	}
	return &Observer{core: c, agents: agents, auth: auth, client: client, cfg: cfg}
}

// MaxLogLines caps one logs request.
const MaxLogLines = 10000

// AgentLogs returns the container's recent output, stdout and stderr, at
// most warder.MaxLogsBytes of it; more is ErrTooLarge, which says how to
// get it instead.
func (s *Observer) AgentLogs(ctx context.Context, caller *warder.User, id string, opts warder.LogOptions) (string, error) {
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return "", err
	}
	s.touch(ctx, a)
	if opts.Lines == warder.AllLines {
		opts.Lines = 0 // every line, within MaxLogsBytes
	} else if opts.Lines < 1 || opts.Lines > MaxLogLines {
		return "", warder.Errorf(warder.ErrInvalid, "lines must be between 1 and %d, or all", MaxLogLines)
	}
	if a.ContainerID == "" {
		return "", warder.Errorf(warder.ErrConflict, "agent has no container: start it first")
	}
	logs, err := warder.CollectLogs(ctx, s.rt, a.ContainerID, opts)
	if errors.Is(err, warder.ErrTooLarge) {
		return "", warder.Errorf(warder.ErrTooLarge, "%s: ask for fewer lines, or stream them (follow=true, or Accept: text/event-stream)", warder.ErrorMessage(err))
	}
	return logs, gone(err)
}

// AgentStats returns the newest sample of the container's resource use:
// the collector's, when there is one, else one taken now.
func (s *Observer) AgentStats(ctx context.Context, caller *warder.User, id string) (warder.Stats, error) {
	a, err := s.statsOf(ctx, caller, id)
	if err != nil {
		return warder.Stats{}, err
	}
	if s.cfg.Stats == nil {
		st, err := s.rt.Stats(ctx, a.ContainerID)
		return st, gone(err)
	}
	st, err := s.cfg.Stats.Latest(ctx, a.ContainerID)
	return st, gone(err)
}

// gone turns the runtime's "no such container" into a conflict: the agent
// exists, its container does not, and a 404 would say the agent is gone.
func gone(err error) error {
	if errors.Is(err, warder.ErrNotFound) {
		return warder.Errorf(warder.ErrConflict, "agent container no longer exists; start the agent to create a new one")
	}
	return err
}

// AgentEvents lists the agent's status history, oldest first.
func (s *Observer) AgentEvents(ctx context.Context, caller *warder.User, id string, limit int) ([]*warder.AgentEvent, error) {
	if _, err := s.visible(ctx, caller, id); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, warder.Errorf(warder.ErrInvalid, "limit must be between 1 and 1000")
	}
	return s.store.AgentEvents(ctx, id, limit)
}
