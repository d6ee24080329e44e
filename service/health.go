package service

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/warder/warder"
)

// Health is probed by Warder over the network, at the agent's /health, not
// by a health-check process the engine runs in every container: a process
// exec per agent every few seconds kept this 2-core engine busy with a few
// hundred idle agents, while an HTTP GET costs the engine nothing.
const (
	defaultHealthEvery = 10 * time.Second
	healthConcurrency  = 8
	// unhealthyAfter failed probes in a row make an agent unhealthy, as a
	// Docker HEALTHCHECK's retries did.
	unhealthyAfter = 3
	// steadyAfter answers in a row make an agent steady: it is then
	// probed every steadyEvery rounds only (30 s by default, a Docker
	// HEALTHCHECK's default interval), until a probe fails, when it is
	// probed every round again. At 1,000 agents the rounds' requests are
	// Warder's largest steady cost, and an agent that has answered for a
	// while seldom stops all at once.
	steadyAfter = 3
	steadyEvery = 3
)

// probe is what Warder knows of one running container's health.
type probe struct {
	health string // "starting", "healthy" or "unhealthy"
	fails  int
	oks    int // answers in a row
	rested int // rounds skipped since the last probe
}

// due reports whether the workload is probed this round, counting the
// round as skipped when it is not.
func (w *workloads) due(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.m[id]
	if h == nil {
		return true
	}
	if h.probe.oks < steadyAfter || h.probe.rested >= steadyEvery-1 {
		return true
	}
	h.probe.rested++
	return false
}

// probedHealth is the health Warder has probed for the workload, or
// "starting" before the first answer.
func (w *workloads) probedHealth(id string) string {
	if h, ok := w.get(id); ok && h.probe.health != "" {
		return h.probe.health
	}
	return "starting"
}

// runHealth probes every running agent each HealthEvery until ctx ends.
func (s *Observer) runHealth(ctx context.Context) {
	every := s.cfg.HealthEvery
	if every <= 0 {
		every = defaultHealthEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.ProbeHealth(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("probing agents' health", "err", err)
			}
		}
	}
}

// ProbeHealth asks each running agent's /health once (a few at a time) and
// records a change of its health. Agents whose runtime reports a health of
// its own (an image with a HEALTHCHECK) keep that one.
func (s *Observer) ProbeHealth(ctx context.Context) error {
	if s.client == nil {
		return nil
	}
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{Statuses: []warder.Status{warder.StatusRunning}})
	if err != nil {
		return err
	}
	sem := make(chan struct{}, healthConcurrency)
	var wg sync.WaitGroup
	for _, a := range agents {
		if a.Status != warder.StatusRunning || a.ContainerID == "" || !s.work.due(a.ContainerID) {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.probeOne(ctx, a)
		})
	}
	wg.Wait()
	return nil
}

// probeOne probes one agent and, when its health changed, records it under
// the agent's lock (if it still runs the same container).
func (s *Observer) probeOne(ctx context.Context, a *warder.Agent) {
	r, ok := s.work.endpoint(a.ContainerID)
	if !ok {
		st, err := s.rt.Inspect(ctx, a.ContainerID)
		if err != nil || st.Endpoint == "" || st.Health != "" {
			return // gone, stopped, or the runtime reports health itself
		}
		r = s.work.remember(&st)
	}
	h, _ := s.work.get(a.ContainerID)
	next := h.probe
	err := s.client.Health(ctx, &url.URL{Scheme: "http", Host: r.probe})
	switch {
	case err == nil:
		next = probe{health: "healthy", oks: next.oks + 1}
	case ctx.Err() != nil:
		return
	default:
		next.oks, next.rested = 0, 0 // probed every round until it answers again
		if next.fails++; next.fails >= unhealthyAfter {
			next.health = "unhealthy"
		} else if next.health == "" {
			next.health = "starting"
		}
	}
	s.work.with(a.ContainerID, func(h *handle) { h.probe = next })
	if next.health == a.Health {
		return
	}
	defer s.locks.Lock(a.ID)()
	cur, err := s.store.Agent(ctx, a.ID)
	if err != nil || cur.ContainerID != a.ContainerID || cur.Status != warder.StatusRunning {
		return
	}
	if err := s.probed(ctx, cur, next.health); err != nil {
		s.log.Error("recording an agent's health", "agent", a.ID, "err", err)
	}
}
