package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/snapshot"
)

// Snapshots is agents' snapshots: a saved copy of an agent's workspace
// and settings (take, list, delete), an agent put back to one (restore),
// and a new agent made from one, or from an agent as it is now (fork).
// The bytes live in a snapshot.Store (a directory or an S3 bucket), in
// package snapshot's format; see docs/snapshots.md.
type Snapshots struct {
	*core
	agents *Agents
	files  *Files
	snaps  snapshot.Store
	cfg    SnapshotConfig
}

// SnapshotConfig is where snapshots live and how many a user may keep.
type SnapshotConfig struct {
	// Store keeps the snapshots; nil answers 501 on every snapshot call.
	Store snapshot.Store
	// Archive is the format's settings (zstd level, concurrency, a bound
	// on one snapshot); each snapshot is bounded, besides, to what is
	// left of its owner's bound (snapshot.Meta.MaxBytes).
	Archive snapshot.Config
	// PerAgent bounds one agent's snapshots (WARDER_MAX_SNAPSHOTS_PER_AGENT)
	// and UserBytes the bytes all of one user's take in the store
	// (WARDER_MAX_SNAPSHOT_BYTES_PER_USER), kept ones of deleted agents
	// included; 0 is the default, -1 no bound.
	PerAgent  int
	UserBytes int64
	// CleanupAge is how old an interrupted snapshot's leftovers must be
	// before RunCleanup removes them (longer than the longest snapshot
	// takes); 0 is an hour.
	CleanupAge time.Duration
}

// Defaults of SnapshotConfig.
const (
	DefaultSnapshotsPerAgent    = 20
	DefaultSnapshotBytesPerUser = 20 << 30
	DefaultSnapshotCleanupAge   = time.Hour
	snapshotCleanupEvery        = time.Hour
)

func newSnapshots(c *core, agents *Agents, files *Files, cfg SnapshotConfig) *Snapshots {
	if cfg.PerAgent == 0 {
		cfg.PerAgent = DefaultSnapshotsPerAgent
	}
	if cfg.UserBytes == 0 {
		cfg.UserBytes = DefaultSnapshotBytesPerUser
	}
	if cfg.CleanupAge <= 0 {
		cfg.CleanupAge = DefaultSnapshotCleanupAge
	}
	return &Snapshots{core: c, agents: agents, files: files, snaps: cfg.Store, cfg: cfg}
}

// archive is the snapshot format over the store.
func (s *Snapshots) archive() (*snapshot.Archive, error) {
	if s.snaps == nil {
		return nil, warder.Errorf(warder.ErrNotSupported, "snapshots are not configured on this server")
	}
	return snapshot.NewArchive(s.snaps, s.cfg.Archive)
}

// fileRuntime is the runtime's Files part, or ErrNotSupported.
func (s *Snapshots) fileRuntime() (warder.FileRuntime, error) {
	if s.snaps == nil {
		return nil, warder.Errorf(warder.ErrNotSupported, "snapshots are not configured on this server")
	}
	fr := s.rt.Parts().Files
	if fr == nil {
		return nil, warder.Errorf(warder.ErrNotSupported, "the %s runtime has no workspaces to snapshot", s.rt.Info().Name)
	}
	return fr, nil
}

// savedSettings is what a snapshot keeps of its agent, for a fork to
// make the same agent again: env in the clear as the agent has it, its
// secrets sealed as the store keeps them (never opened here).
type savedSettings struct {
	Name            string                 `json:"name"`
	Description     string                 `json:"description"`
	Type            string                 `json:"type"`
	Config          map[string]any         `json:"config"`
	ContainerConfig warder.ContainerConfig `json:"container_config"`
	KnowledgeBase   map[string]any         `json:"knowledge_base"`
	SealedSecrets   string                 `json:"sealed_secrets,omitempty"`
}

func settingsOf(a *warder.Agent) savedSettings {
	cc := a.ContainerConfig.Clone()
	cc.SecretEnv = nil
	return savedSettings{Name: a.Name, Description: a.Description, Type: a.Type, Config: a.Config,
		ContainerConfig: cc, KnowledgeBase: a.KnowledgeBase, SealedSecrets: a.SealedSecrets}
}

func toWire(m *snapshot.Manifest) *warder.Snapshot {
	return &warder.Snapshot{ID: m.ID, AgentID: m.AgentID, UserID: m.Owner, Name: m.Name, CreatedAt: m.CreatedAt,
		SizeBytes: m.StoredBytes, WorkspaceBytes: m.TarBytes, SHA256: m.SHA256}
}

// TakeSnapshot saves the agent's workspace and settings as a snapshot.
// The owner's bounds are checked before any byte is read, and the
// snapshot is bounded, as it streams, to what is left of them. While the
// files are read the agent is held still (hold).
func (s *Snapshots) TakeSnapshot(ctx context.Context, caller *warder.User, id string, req warder.SnapshotRequest) (*warder.Snapshot, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	fr, err := s.fileRuntime()
	if err != nil {
		return nil, err
	}
	if err := validID(id); err != nil {
		return nil, err
	}
	defer s.locks.Lock(id)()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	// One snapshot of a user's at a time on this process, so two cannot
	// together pass the bound each alone respects.
	defer s.locks.Lock("snapshots:" + a.UserID)()
	room, err := s.room(ctx, a)
	if err != nil {
		return nil, err
	}
	arch, err := s.archive()
	if err != nil {
		return nil, err
	}
	settings, err := json.Marshal(settingsOf(a))
	if err != nil {
		return nil, err
	}
	if err := s.agents.filesWorkload(ctx, a, caller.ReadOnly); err != nil {
		return nil, err
	}
	s.touch(ctx, a)
	release, err := s.hold(ctx, a, actor(caller))
	if err != nil {
		return nil, err
	}
	defer release()
	rc, err := fr.ReadTar(ctx, a.ContainerID, "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	m, err := arch.Save(ctx, snapshot.Meta{AgentID: a.ID, Owner: a.UserID, Name: req.Name, Settings: settings, MaxBytes: room}, rc)
	if errors.Is(err, warder.ErrTooLarge) && room > 0 && (s.cfg.Archive.MaxBytes == 0 || room < s.cfg.Archive.MaxBytes) {
		return nil, over("snapshot_bytes_per_user", "the snapshot would take more than the %d bytes left of your snapshot bound of %d (WARDER_MAX_SNAPSHOT_BYTES_PER_USER)", room, s.cfg.UserBytes)
	}
	if err != nil {
		return nil, err
	}
	return toWire(m), nil
}

// room checks the owner's bounds before a snapshot of a is taken: the
// agent's count, and the bytes the owner's snapshots take. It returns
// the bytes the new snapshot may take (0: no bound).
func (s *Snapshots) room(ctx context.Context, a *warder.Agent) (int64, error) {
	arch, err := s.archive()
	if err != nil {
		return 0, err
	}
	if s.cfg.PerAgent > 0 {
		mine, err := arch.List(ctx, a.ID)
		if err != nil {
			return 0, err
		}
		if len(mine) >= s.cfg.PerAgent {
			return 0, over("snapshots_per_agent", "the agent has %d snapshots, %d allowed (WARDER_MAX_SNAPSHOTS_PER_AGENT): delete one first", len(mine), s.cfg.PerAgent)
		}
	}
	if s.cfg.UserBytes <= 0 {
		return 0, nil
	}
	used, err := s.used(ctx, arch, a.UserID)
	if err != nil {
		return 0, err
	}
	if used >= s.cfg.UserBytes {
		return 0, over("snapshot_bytes_per_user", "your snapshots take %d bytes, %d allowed per user (WARDER_MAX_SNAPSHOT_BYTES_PER_USER): delete some first", used, s.cfg.UserBytes)
	}
	return s.cfg.UserBytes - used, nil
}

// used is what all of owner's snapshots take in the store.
func (s *Snapshots) used(ctx context.Context, arch *snapshot.Archive, owner string) (int64, error) {
	all, err := arch.List(ctx, "")
	if err != nil {
		return 0, err
	}
	var n int64
	for _, m := range all {
		if m.Owner == owner {
			n += m.StoredBytes
		}
	}
	return n, nil
}

// scope is the agent id's snapshots the caller may reach: those of an
// agent it may see, or, once the agent is deleted (its snapshots kept),
// those it owns (an admin: any). The agent is nil when deleted. Anything
// else is ErrNotFound, as for an agent that does not exist.
func (s *Snapshots) scope(ctx context.Context, caller *warder.User, id string) (*warder.Agent, []*snapshot.Manifest, error) {
	arch, err := s.archive()
	if err != nil {
		return nil, nil, err
	}
	a, err := s.visible(ctx, caller, id)
	switch {
	case err == nil:
		list, err := arch.List(ctx, id)
		return a, list, err
	case !errors.Is(err, warder.ErrNotFound):
		return nil, nil, err
	}
	// Not visible: another user's agent, or a deleted one whose
	// snapshots were kept.
	if _, gerr := s.store.Agent(ctx, id); gerr == nil {
		return nil, nil, err
	} else if !errors.Is(gerr, warder.ErrNotFound) {
		return nil, nil, gerr
	}
	list, lerr := arch.List(ctx, id)
	if lerr != nil {
		return nil, nil, lerr
	}
	if len(list) == 0 || (list[0].Owner != caller.ID && !caller.IsAdmin()) {
		return nil, nil, err
	}
	return nil, list, nil
}

// response is list as the API answers it, with the owner's use and bound.
func (s *Snapshots) response(ctx context.Context, list []*snapshot.Manifest, owner string) (*warder.SnapshotsResponse, error) {
	out := &warder.SnapshotsResponse{Snapshots: []*warder.Snapshot{}, LimitBytes: s.cfg.UserBytes}
	for _, m := range list {
		out.Snapshots = append(out.Snapshots, toWire(m))
	}
	if owner != "" {
		arch, err := s.archive()
		if err != nil {
			return nil, err
		}
		if out.UsedBytes, err = s.used(ctx, arch, owner); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListSnapshots lists the agent's snapshots, oldest first: an agent the
// caller may see, or a deleted one whose snapshots the caller kept.
func (s *Snapshots) ListSnapshots(ctx context.Context, caller *warder.User, id string) (*warder.SnapshotsResponse, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	a, list, err := s.scope(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	owner := ""
	switch {
	case a != nil:
		owner = a.UserID
	case len(list) > 0:
		owner = list[0].Owner
	}
	return s.response(ctx, list, owner)
}

// AllSnapshots lists the caller's snapshots (an admin's: everyone's),
// those of deleted agents among them, oldest first.
func (s *Snapshots) AllSnapshots(ctx context.Context, caller *warder.User) (*warder.SnapshotsResponse, error) {
	arch, err := s.archive()
	if err != nil {
		return nil, err
	}
	all, err := arch.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var mine []*snapshot.Manifest
	for _, m := range all {
		if m.Owner == caller.ID || caller.IsAdmin() {
			mine = append(mine, m)
		}
	}
	return s.response(ctx, mine, caller.ID)
}

// snapshotIn finds snapshot sid among list, or ErrNotFound.
func snapshotIn(list []*snapshot.Manifest, sid string) (*snapshot.Manifest, error) {
	for _, m := range list {
		if m.ID == sid {
			return m, nil
		}
	}
	return nil, warder.Errorf(warder.ErrNotFound, "snapshot not found")
}

// DeleteSnapshot removes one of the agent's snapshots.
func (s *Snapshots) DeleteSnapshot(ctx context.Context, caller *warder.User, id, sid string) error {
	if err := validID(id); err != nil {
		return err
	}
	defer s.locks.Lock(id)()
	_, list, err := s.scope(ctx, caller, id)
	if err != nil {
		return err
	}
	if _, err := snapshotIn(list, sid); err != nil {
		return err
	}
	arch, err := s.archive()
	if err != nil {
		return err
	}
	return arch.Delete(ctx, id, sid)
}

// DeleteAgent deletes the agent as Agents.DeleteAgentWith does, then its
// snapshots unless opts keeps them. Snapshots go after the agent, so a
// delete refused (the runtime down) loses none; if they cannot all be
// removed the agent is gone still, and the answer says where they are.
func (s *Snapshots) DeleteAgent(ctx context.Context, caller *warder.User, id string, opts warder.DeleteOptions) error {
	if err := s.agents.DeleteAgentWith(ctx, caller, id, opts); err != nil {
		return err
	}
	if opts.KeepSnapshots || s.snaps == nil {
		return nil
	}
	arch, err := s.archive()
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	list, err := arch.List(ctx, id)
	for _, m := range list {
		if err == nil {
			err = arch.Delete(ctx, id, m.ID)
		}
	}
	if err != nil {
		s.log.ErrorContext(ctx, "deleting a deleted agent's snapshots", "agent", id, "err", err)
		return warder.Errorf(warder.ErrUnavailable, "the agent was deleted, but not all its snapshots: GET /api/snapshots lists them, and DELETE /api/agents/%s/snapshots/{id} deletes each (%v)", id, warder.ErrorMessage(err))
	}
	return nil
}

// RunCleanup removes what interrupted snapshots left (see
// snapshot.Archive.Cleanup): at once, then every hour, until ctx ends.
func (s *Snapshots) RunCleanup(ctx context.Context) {
	if s.snaps == nil {
		return
	}
	arch, err := s.archive()
	if err != nil {
		s.log.ErrorContext(ctx, "snapshot cleanup", "err", err)
		return
	}
	t := time.NewTicker(snapshotCleanupEvery)
	defer t.Stop()
	for {
		n, err := arch.Cleanup(ctx, s.cfg.CleanupAge)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "snapshot cleanup", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "removed what interrupted snapshots left", "objects", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
