package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/warder/warder"
)

// reconcileOpts says what reconcile already knows.
type reconcileOpts struct {
	actor string
	// listed is every container carrying this agent's label, when the
	// caller listed them (resync); nil means inspect a.ContainerID.
	listed []warder.WorkloadState
	// listedAt is when the listing began: an operation that finished
	// after it (the agent's status changed since, or its container is not
	// in the listing) makes the listing stale for this agent.
	listedAt time.Time
	// interrupted means an operation recorded as in flight can no longer
	// be running: it is settled rather than waited for.
	interrupted bool
	// event is the runtime's event that asked for this reconcile, if one
	// did: it is not looked into when it is no news (see news). Its
	// container, when it is not the agent's recorded one, is a create
	// that finished after the process that asked for it died (and after
	// the resync that followed), to be adopted or removed as a resync
	// would.
	event *warder.WorkloadEvent
}

// errElsewhere is reconcile declining an agent whose start or stop
// another process sharing the store is running: that process records the
// outcome, and reconciling meanwhile would record a second, racing one.
var errElsewhere = errors.New("an operation on the agent is under way in another process")

// reconcile brings one agent's record in line with its container, under
// the agent's lock. An agent that no longer exists is not an error; one
// another process is starting or stopping is errElsewhere.
func (s *Observer) reconcile(ctx context.Context, id string, o reconcileOpts) error {
	defer s.locks.Lock(id)()
	a, err := s.store.Agent(ctx, id)
	if errors.Is(err, warder.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	// Under this process's lock an in-flight status is another
	// process's (or left over: interrupted says when it is).
	if !s.exclusive && inFlight(a.Status) && !o.interrupted && !s.interrupted(a) {
		return errElsewhere
	}
	if o.event != nil && !news(a, *o.event) {
		return nil
	}
	if o.listed == nil && o.event != nil && o.event.ContainerID != a.ContainerID {
		if o.listed, err = s.inspectBoth(ctx, a.ContainerID, o.event.ContainerID); err != nil {
			return err
		}
	}
	if o.listed != nil && !o.listedAt.IsZero() {
		if o.listed, err = s.freshen(ctx, a, o.listed, o.listedAt); err != nil {
			return err
		}
	}
	st, err := s.containerOf(ctx, a, o.listed)
	if err != nil {
		return err
	}
	if o.interrupted && a.Status == warder.StatusStopping && st != nil && (st.Running() || st.Phase == warder.PhasePaused) {
		// Finish the stop the user asked for.
		if err := s.rt.Stop(ctx, a.ContainerID, s.agents.cfg.StopTimeout); err != nil {
			return err
		}
		if st, err = s.containerOf(ctx, a, nil); err != nil {
			return err
		}
	}
	s.oomFlag(st)
	to, reason := derive(a, st)
	// "starting" because the runtime is restarting the container (its
	// policy, a back-off between restarts) is no operation of Warder's to
	// have been interrupted.
	if o.interrupted && to == a.Status && a.Status == warder.StatusStarting && (st == nil || !st.Restarting()) {
		to, reason = warder.StatusFailed, "start interrupted: Warder stopped before the container was running"
	}
	if to == warder.StatusFailed && st != nil && st.Restarting() {
		if n, last := s.lastRestart(a, st); last {
			// The engine's final try under on-failure:N: it stops by
			// itself after it, and that run's exit (or its running on)
			// is the truth. Stopping it here would record our SIGTERM
			// (exit 143) as the agent's last exit code.
			to, reason = warder.StatusStarting, fmt.Sprintf("restarting after exit code %d (the last of %d restarts)", st.ExitCode, n)
		}
	}
	if to == warder.StatusFailed && st != nil && st.Restarting() {
		// A crash loop under "unless-stopped" (or a long on-failure:N)
		// would go on restarting, holding its port and the engine's time
		// while reported failed. Give it up: a stop ends the engine's
		// restarts, and the container stays for its logs until the next
		// start replaces it.
		if err := s.rt.Stop(ctx, a.ContainerID, s.agents.cfg.StopTimeout); err != nil && !errors.Is(err, warder.ErrNotFound) {
			return err
		}
		if st, err = s.containerOf(ctx, a, nil); err != nil {
			return err
		}
	}
	if a.HostPort != 0 && st != nil && !st.Running() && !st.Restarting() && st.Phase != warder.PhaseCreated && st.Phase != warder.PhasePaused && !inFlight(to) {
		// An agent whose process ended holds no host port, as a stopped
		// one does not: a stop of the ended container gives it up, and
		// the next start claims it again or makes a new container.
		if err := s.rt.Stop(ctx, a.ContainerID, 0); err != nil && !errors.Is(err, warder.ErrNotFound) {
			return err
		}
		a.HostPort = 0
	}
	return s.record(ctx, a, st, to, reason, o.actor)
}

// lastRestart reports whether st's restart is the last the runtime makes
// under the agent's on-failure:N policy (n), after which it leaves the
// container exited by itself.
func (s *Observer) lastRestart(a *warder.Agent, st *warder.WorkloadState) (n int, last bool) {
	if !s.rt.Info().BoundedRestarts {
		return 0, false
	}
	mode, n, err := warder.ParseRestartPolicy(a.ContainerConfig.RestartPolicy)
	return n, err == nil && mode == string(warder.RestartOnFailure) && n > 0 && st.RestartCount >= n
}

// containerOf finds the agent's container: from listed when given (adopting
// a container known only by its name, and removing stray duplicates), else
// by inspecting a.ContainerID. nil means there is none.
func (s *core) containerOf(ctx context.Context, a *warder.Agent, listed []warder.WorkloadState) (*warder.WorkloadState, error) {
	if listed == nil {
		if a.ContainerID == "" {
			return nil, nil
		}
		st, err := s.rt.Inspect(ctx, a.ContainerID)
		if errors.Is(err, warder.ErrNotFound) {
			return nil, nil
		}
		return &st, err
	}
	var found *warder.WorkloadState
	for i := range listed {
		c := &listed[i]
		// A claimed pool container is the agent's only by the recorded
		// id: one found by its name alone is a claim that never finished.
		if c.ID == a.ContainerID || (found == nil && c.Name == warder.ContainerName(a.ID) && !c.Pooled) {
			found = c
		}
	}
	for _, c := range listed {
		if found == nil || c.ID != found.ID {
			if err := s.rt.Remove(ctx, c.ID); err != nil {
				return nil, err
			}
			s.log.WarnContext(ctx, "removed a stray container", "agent", a.ID, "container", c.ID)
		}
	}
	if found != nil && found.ID != a.ContainerID {
		s.log.InfoContext(ctx, "adopted container", "agent", a.ID, "container", found.ID)
		a.ContainerID, a.ContainerName = found.ID, found.Name
	}
	return found, nil
}

// freshen replaces what a listing says of the agent's recorded container
// when the listing may predate it: a start or stop that finished between
// the listing and this agent's turn (a resync of hundreds of agents takes
// a while) recorded a container, or a state, the listing does not show.
// Trusting it would mark a just-started agent missing, or a just-stopped
// one running. Containers known only by name stay as listed: adopting or
// removing them is what the listing is for.
func (s *Observer) freshen(ctx context.Context, a *warder.Agent, listed []warder.WorkloadState, at time.Time) ([]warder.WorkloadState, error) {
	if a.ContainerID == "" {
		return listed, nil
	}
	i := slices.IndexFunc(listed, func(c warder.WorkloadState) bool { return c.ID == a.ContainerID })
	if i >= 0 && a.StatusChangedAt.Before(at) {
		return listed, nil
	}
	fresh, err := s.inspectBoth(ctx, a.ContainerID)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(slices.Clone(listed), func(c warder.WorkloadState) bool { return c.ID == a.ContainerID })
	return append(out, fresh...), nil
}

// inspectBoth lists, as a resync would, the containers ids name that
// exist ("" names none).
func (s *Observer) inspectBoth(ctx context.Context, ids ...string) ([]warder.WorkloadState, error) {
	listed := []warder.WorkloadState{}
	for _, id := range ids {
		if id == "" {
			continue
		}
		st, err := s.rt.Inspect(ctx, id)
		if errors.Is(err, warder.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		listed = append(listed, st)
	}
	return listed, nil
}

// Resync reconciles every agent with this deployment's containers: it
// adopts what matches, marks what is gone, settles interrupted operations
// and removes containers whose agent no longer exists.
func (s *Observer) Resync(ctx context.Context) error {
	// Truncated as PostgreSQL keeps times, so a change in the same
	// microsecond counts as after.
	listedAt := time.Now().UTC().Truncate(time.Microsecond)
	containers, err := s.rt.List(ctx)
	if err != nil {
		return err
	}
	agents, err := s.store.ListAgents(ctx, warder.AgentFilter{})
	if err != nil {
		return err
	}
	byAgent := make(map[string][]warder.WorkloadState, len(agents))
	for _, a := range agents {
		byAgent[a.ID] = []warder.WorkloadState{}
	}
	for _, c := range containers {
		if _, ok := byAgent[c.AgentID]; !ok {
			if err := s.orphan(ctx, c); err != nil {
				return err
			}
			continue
		}
		byAgent[c.AgentID] = append(byAgent[c.AgentID], c)
	}
	var errs []error
	for _, a := range agents {
		err := s.reconcile(ctx, a.ID, reconcileOpts{actor: "resync", listed: byAgent[a.ID], listedAt: listedAt, interrupted: s.interrupted(a)})
		if err != nil && !errors.Is(err, errElsewhere) { // that process records the outcome
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// orphan removes a container whose agent no longer exists. The agent may
// have been created a moment ago by another process sharing the store, so
// it is looked up once more first.
func (s *Observer) orphan(ctx context.Context, c warder.WorkloadState) error {
	if c.AgentID != "" {
		if _, err := s.store.Agent(ctx, c.AgentID); err == nil {
			return nil
		} else if !errors.Is(err, warder.ErrNotFound) {
			return err
		}
	}
	s.log.WarnContext(ctx, "removing orphan container", "container", c.ID, "name", c.Name, "agent", c.AgentID)
	return s.rt.Remove(ctx, c.ID)
}
