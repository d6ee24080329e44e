package service

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// Agents is agents and their lifecycle: create, edit, delete, start,
// stop, restart, with the quotas, image policy and network policy that
// guard them.
type Agents struct {
	*core
	cfg AgentsConfig
}

// AgentsConfig is what the lifecycle needs.
type AgentsConfig struct {
	DefaultImage string
	Spec         warder.SpecSettings
	// StopTimeout is how long a workload gets to exit after SIGTERM.
	StopTimeout time.Duration
	// Images is the image policy.
	Images ImagePolicy
	// Egress is the operator's network policy.
	Egress EgressPolicy
	// Quota is the operator's default per-user limits; an admin's
	// per-user overrides take precedence. 0 or nil is unlimited.
	Quota warder.Limits
	// Locks makes one user's quota checks take turns with the changes
	// they guard across processes; nil means this process is alone.
	Locks warder.Locker
	// Secrets seals secret_env; nil refuses agents with secrets.
	Secrets Sealer
}

func newAgents(c *core, cfg AgentsConfig) *Agents {
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	return &Agents{core: c, cfg: cfg}
}

// owned loads agent id if caller may see it. Another user's agent is
// ErrNotFound, indistinguishable from one that does not exist.
func (s *core) owned(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return ownedBy(ctx, caller, id, s.store.Agent)
}

// visible is owned answered from the store's cache when it can be (see
// warder.AgentStore.CachedAgent): for an answer that shows the agent, or
// a check that the caller may see it, never for a row to change and
// write back.
func (s *core) visible(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return ownedBy(ctx, caller, id, s.store.CachedAgent)
}

// ownedBy is owned and visible, reading the agent with read.
func ownedBy(ctx context.Context, caller *warder.User, id string, read func(context.Context, string) (*warder.Agent, error)) (*warder.Agent, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	a, err := read(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.UserID != caller.ID && !caller.IsAdmin() {
		return nil, warder.Errorf(warder.ErrNotFound, "agent not found")
	}
	return a, nil
}

// validID rejects what cannot be an agent id before any lookup.
func validID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return warder.Errorf(warder.ErrInvalid, "agent id %q is not a valid id", id)
	}
	return nil
}

// CreateAgent validates req and stores a new agent; no container is made
// until the agent is first started.
func (s *Agents) CreateAgent(ctx context.Context, caller *warder.User, req warder.AgentCreate) (*warder.Agent, error) {
	if err := req.Validate(s.cfg.DefaultImage); err != nil {
		return nil, err
	}
	owner, err := s.ownerFor(ctx, caller, req.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.checkImage(caller, req.ContainerConfig.Image); err != nil {
		return nil, err
	}
	if err := s.applyNetwork(&req.ContainerConfig); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	a := &warder.Agent{
		ID:              uuid.NewString(),
		UserID:          owner,
		Name:            req.Name,
		Description:     req.Description,
		Type:            req.Type,
		Config:          req.Config,
		ContainerConfig: req.ContainerConfig,
		KnowledgeBase:   req.KnowledgeBase,
		Status:          warder.StatusCreated,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	a.ContainerConfig.SecretEnvNames = []string{}
	if err := s.seal(a); err != nil {
		return nil, err
	}
	unlock, err := s.quotaLock(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.checkCreate(ctx, owner, a.ContainerConfig); err != nil {
		return nil, err
	}
	if err := s.store.CreateAgent(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// ownerFor decides whose agent a create makes: the caller's own, or, for
// an admin only, the user named in the body.
func (s *Agents) ownerFor(ctx context.Context, caller *warder.User, userID string) (string, error) {
	if userID == "" || userID == caller.ID {
		return caller.ID, nil
	}
	if !caller.IsAdmin() {
		return "", warder.Errorf(warder.ErrForbidden, "user_id must be your own user id")
	}
	if _, err := uuid.Parse(userID); err != nil {
		return "", warder.Errorf(warder.ErrInvalid, "user_id %q is not a valid id", userID)
	}
	if _, err := s.store.UserByID(ctx, userID); errors.Is(err, warder.ErrNotFound) {
		return "", warder.Errorf(warder.ErrInvalid, "user_id %q names no user", userID)
	} else if err != nil {
		return "", err
	}
	return userID, nil
}

// Agent returns one agent the caller may see.
func (s *Agents) Agent(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	return s.visible(ctx, caller, id)
}

// ListAgents lists the caller's agents that q selects; an admin sees
// everyone's, or one user's with q.UserID. With q.Limit it answers a page
// and the cursor of the next one, if any.
func (s *Agents) ListAgents(ctx context.Context, caller *warder.User, q warder.AgentQuery) (*warder.AgentPage, error) {
	f, err := q.Validate()
	if err != nil {
		return nil, err
	}
	switch {
	case q.UserID != "" && q.UserID != caller.ID && !caller.IsAdmin():
		return nil, warder.Errorf(warder.ErrForbidden, "user_id must be your own user id: only admins list other users' agents")
	case q.UserID != "":
		f.UserID = q.UserID
	case !caller.IsAdmin():
		f.UserID = caller.ID
	}
	if f.Limit > 0 {
		f.Limit++ // one more than asked tells whether a next page exists
	}
	list, err := s.store.ListAgents(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &warder.AgentPage{Agents: list}
	if q.Limit > 0 && len(list) > q.Limit {
		page.Agents = list[:q.Limit]
		page.Next = warder.KeyOf(page.Agents[q.Limit-1]).Cursor()
	}
	return page, nil
}

// ReplaceAgent is PUT: as PATCH, only the fields the body sets change,
// as the original Warder did (see warder.AgentReplace); user_id, if sent,
// must be the owner's.
func (s *Agents) ReplaceAgent(ctx context.Context, caller *warder.User, id string, req warder.AgentReplace) (*warder.Agent, error) {
	return s.edit(ctx, caller, id, func(a *warder.Agent) error {
		if req.UserID != nil && *req.UserID != a.UserID {
			if *req.UserID != caller.ID && !caller.IsAdmin() {
				return warder.Errorf(warder.ErrForbidden, "user_id must be your own user id")
			}
			return warder.Errorf(warder.ErrInvalid, "user_id cannot be changed: an agent keeps its owner")
		}
		return req.Apply(a, s.cfg.DefaultImage)
	})
}

// UpdateAgent is PATCH: only the fields the body sets change.
func (s *Agents) UpdateAgent(ctx context.Context, caller *warder.User, id string, req warder.AgentUpdate) (*warder.Agent, error) {
	return s.edit(ctx, caller, id, func(a *warder.Agent) error {
		return req.Apply(a, s.cfg.DefaultImage)
	})
}

// edit applies change to an agent under its lock. A new container_config
// cannot reach a running container, so that is refused; a stopped agent's
// container is removed and made again, with the new settings, on next start.
func (s *Agents) edit(ctx context.Context, caller *warder.User, id string, change func(*warder.Agent) error) (*warder.Agent, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	before := *a
	if err := change(a); err != nil {
		return nil, err
	}
	if err := s.seal(a); err != nil {
		return nil, err
	}
	if err := s.applyNetwork(&a.ContainerConfig); err != nil {
		return nil, err
	}
	if a.ContainerConfig.Image != before.ContainerConfig.Image {
		if err := s.checkImage(caller, a.ContainerConfig.Image); err != nil {
			return nil, err
		}
	}
	if a.ContainerConfig.MemoryLimit != before.ContainerConfig.MemoryLimit || a.ContainerConfig.CPULimit != before.ContainerConfig.CPULimit {
		override, err := s.store.UserLimits(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		if err := checkSize(s.effective(override), a.ContainerConfig); err != nil {
			return nil, err
		}
	}
	if a.ContainerID != "" && (!sameContainer(&before, a, s.specSettings()) || before.SealedSecrets != a.SealedSecrets) {
		if a.Status == warder.StatusRunning || inFlight(a.Status) {
			// The name, type and config reach the container too (labels,
			// AGENT_* env vars), so they wait for a stop as well.
			return nil, warder.Errorf(warder.ErrConflict, "stop the agent before changing its container_config, name, type or config")
		}
		if err := s.rt.Remove(ctx, a.ContainerID); err != nil {
			return nil, err
		}
		a.ContainerID, a.ContainerName, a.ContainerStatus = "", "", ""
	}
	if err := s.store.UpdateAgent(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// sameContainer reports whether an edit leaves the container as it is:
// the name and type reach it too, as labels and env vars.
func sameContainer(x, y *warder.Agent, settings warder.SpecSettings) bool {
	sx, errx := warder.SpecFor(x, settings)
	sy, erry := warder.SpecFor(y, settings)
	return errx == nil && erry == nil && reflect.DeepEqual(sx, sy)
}

// DeleteAgentWith removes the agent's container, then its workspace
// unless opts keeps it, then the agent, which frees its port. If the
// runtime is down the agent stays, so nothing is lost or leaked.
func (s *Agents) DeleteAgentWith(ctx context.Context, caller *warder.User, id string, opts warder.DeleteOptions) error {
	if err := validID(id); err != nil {
		return err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return err
	}
	if a.ContainerID != "" {
		if err := s.rt.Remove(ctx, a.ContainerID); err != nil {
			return err
		}
		s.work.removed(a.ContainerID)
	} else if err := s.rt.Remove(ctx, warder.ContainerName(a.ID)); err != nil && !errors.Is(err, warder.ErrUnavailable) {
		// A start interrupted between create and saving the id leaves a
		// workload known only by its name (the one call that takes one);
		// with the runtime down there is none we could know of, so the
		// delete goes on.
		return err
	}
	if !opts.KeepWorkspace {
		// As for the container: with the runtime down and no container
		// known, the delete goes on; the workspace is then listed as
		// kept (GET /api/workspaces) for its owner to delete.
		if err := s.removeWorkspace(ctx, a); err != nil && !(a.ContainerID == "" && errors.Is(err, warder.ErrUnavailable)) {
			return err
		}
	}
	ev := &warder.AgentEvent{AgentID: a.ID, At: time.Now().UTC(), From: a.Status, To: warder.StatusDeleted, Reason: "deleted", Actor: actor(caller)}
	if err := s.store.RecordDeletion(ctx, a, ev); err != nil {
		return err
	}
	s.publish(a, ev)
	return nil
}
