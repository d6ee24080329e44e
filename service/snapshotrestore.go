package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/warder/warder"
	"github.com/warder/warder/snapshot"
)

// hold keeps the agent's workspace still while a snapshot or a fork
// reads it, and returns what puts the agent back as it was. It runs
// under the agent's lock, as who.
//
// A running agent is paused, where the runtime has the Pause part
// (Docker): its processes keep their memory and write nothing while its
// files are read, and it is resumed once they are; a paused or stopped
// agent is read as it is. So the snapshot is what the workspace held at
// one moment. Where the runtime cannot pause (Kubernetes) a running
// agent's files are read while it runs: each file whole and in one
// pass, but files it changes meanwhile may be caught at different
// moments, as a tar of a live directory is; stop the agent first for an
// exact copy (docs/snapshots.md).
func (s *Snapshots) hold(ctx context.Context, a *warder.Agent, who string) (release func(), err error) {
	if a.Status != warder.StatusRunning || s.rt.Parts().Pause == nil {
		return func() {}, nil
	}
	if err := s.agents.pause(ctx, a, who, "paused while its workspace is copied"); err != nil {
		return nil, err
	}
	return func() {
		if err := s.agents.resume(context.WithoutCancel(ctx), a, who); err != nil {
			s.log.ErrorContext(ctx, "resuming an agent paused for a snapshot", "agent", a.ID, "err", err)
		}
	}, nil
}

// RestoreSnapshot puts the agent's workspace back to snapshot sid: a
// running (or paused) agent is stopped, its workspace emptied and filled
// from the snapshot, and started again. The whole snapshot is read and its
// checksum verified before the workspace is touched, and once more as
// it is written (what is written is committed only at the verified end),
// so a damaged snapshot leaves the workspace as it was.
func (s *Snapshots) RestoreSnapshot(ctx context.Context, caller *warder.User, id, sid string) (*warder.Agent, error) {
	fr, err := s.fileRuntime()
	if err != nil {
		return nil, err
	}
	arch, err := s.archive(0)
	if err != nil {
		return nil, err
	}
	return s.locked(ctx, caller, id, func(a *warder.Agent) error {
		list, err := arch.List(ctx, a.ID)
		if err != nil {
			return err
		}
		m, err := snapshotIn(list, sid)
		if err != nil {
			return err
		}
		if err := verify(ctx, arch, m); err != nil {
			return err
		}
		who := actor(caller)
		if a.Status == warder.StatusPaused {
			// Put back running: a paused agent's memory goes with the
			// restart anyway.
			if err := s.agents.resume(ctx, a, who); err != nil {
				return err
			}
		}
		running := a.Status == warder.StatusRunning
		if running {
			if err := s.agents.stop(ctx, a, who, "stopped by "+caller.Username+" to restore snapshot "+m.Name); err != nil {
				return err
			}
		}
		if err := s.agents.filesWorkload(ctx, a, caller.ReadOnly); err != nil {
			return err
		}
		s.touch(ctx, a)
		if err := clearWorkspace(ctx, fr, a.ContainerID); err != nil {
			return err
		}
		if _, err := arch.Restore(ctx, a.ID, m.ID, func(tr io.Reader) error {
			_, err := writeTree(ctx, fr, a.ContainerID, tr)
			return err
		}); err != nil {
			return damaged(m, err)
		}
		if running {
			return s.agents.start(context.WithoutCancel(ctx), caller, a)
		}
		return nil
	})
}

// verify reads the whole snapshot and checks it against its manifest.
func verify(ctx context.Context, arch *snapshot.Archive, m *snapshot.Manifest) error {
	r, err := arch.Open(ctx, m.AgentID, m.ID)
	if err != nil {
		return damaged(m, err)
	}
	defer r.Close()
	return damaged(m, r.Verify())
}

// damaged says a snapshot failed its check in the API's words.
func damaged(m *snapshot.Manifest, err error) error {
	if errors.Is(err, snapshot.ErrCorrupt) {
		return warder.Errorf(warder.ErrConflict, "snapshot %s (%s) is damaged and cannot be used: %v", m.ID, m.Name, err)
	}
	return err
}

// ForkAgent makes a new agent of the caller's with the agent's settings
// (env as it is; secrets copied sealed, never opened) and a copy of its
// workspace: as snapshot req.Snapshot holds it (with the settings saved
// in it; the agent may have been deleted since, its snapshots kept), or
// as it is now, copied straight from workspace to workspace without
// going through the store. The new agent is started if req.Start. A fork
// that fails leaves no agent behind.
func (s *Snapshots) ForkAgent(ctx context.Context, caller *warder.User, id string, req warder.ForkRequest) (*warder.Agent, error) {
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
	if req.Snapshot != "" {
		return s.forkSnapshot(ctx, caller, fr, id, req)
	}
	defer s.locks.Lock(id)()
	src, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if err := s.agents.filesWorkload(ctx, src, caller.ReadOnly); err != nil {
		return nil, err
	}
	wr := s.rt.Parts().Workspaces
	size, err := wr.WorkspaceUsage(ctx, warder.WorkspaceName(src.ID))
	if errors.Is(err, warder.ErrNotFound) {
		size = 0
	} else if err != nil {
		return nil, err
	}
	return s.fork(ctx, caller, req, settingsOf(src), size, func(b *warder.Agent) error {
		release, err := s.hold(ctx, src, actor(caller))
		if err != nil {
			return err
		}
		defer release()
		rc, err := fr.ReadTar(ctx, src.ContainerID, "")
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = writeTree(ctx, fr, b.ContainerID, rc)
		return err
	})
}

// forkSnapshot is ForkAgent from snapshot req.Snapshot of agent id.
func (s *Snapshots) forkSnapshot(ctx context.Context, caller *warder.User, fr warder.FileRuntime, id string, req warder.ForkRequest) (*warder.Agent, error) {
	_, list, err := s.scope(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	m, err := snapshotIn(list, req.Snapshot)
	if err != nil {
		return nil, err
	}
	var set savedSettings
	if err := json.Unmarshal(m.Settings, &set); err != nil {
		return nil, warder.Errorf(warder.ErrConflict, "snapshot %s holds no settings a fork can use: %v", m.ID, err)
	}
	arch, err := s.archive(0)
	if err != nil {
		return nil, err
	}
	return s.fork(ctx, caller, req, set, m.TarBytes, func(b *warder.Agent) error {
		_, err := arch.Restore(ctx, m.AgentID, m.ID, func(tr io.Reader) error {
			_, err := writeTree(ctx, fr, b.ContainerID, tr)
			return err
		})
		return damaged(m, err)
	})
}

// fork makes the new agent from set (through CreateAgent: the caller's
// image policy and quotas apply), gives it set's sealed secrets, checks
// the owner's workspace bounds for size bytes, fills its workspace with
// fill, and starts it if asked. On any failure the new agent is deleted.
func (s *Snapshots) fork(ctx context.Context, caller *warder.User, req warder.ForkRequest, set savedSettings, size int64, fill func(b *warder.Agent) error) (*warder.Agent, error) {
	cc := set.ContainerConfig.Clone()
	cc.SecretEnv, cc.AutoStart = nil, false
	b, err := s.agents.CreateAgent(ctx, caller, warder.AgentCreate{Name: req.Name, Description: set.Description,
		Type: set.Type, Config: set.Config, ContainerConfig: cc, KnowledgeBase: set.KnowledgeBase})
	if err != nil {
		return nil, err
	}
	err = s.fill(ctx, caller, b.ID, set, size, fill)
	if err == nil && req.Start {
		_, err = s.agents.StartAgent(ctx, caller, b.ID)
	}
	if err != nil {
		if derr := s.agents.DeleteAgentWith(context.WithoutCancel(ctx), caller, b.ID, warder.DeleteOptions{}); derr != nil {
			s.log.ErrorContext(ctx, "deleting a fork that failed", "agent", b.ID, "err", derr)
		}
		return nil, err
	}
	return s.store.Agent(ctx, b.ID)
}

// fill gives the new agent id its secrets and its workspace, under its
// lock.
func (s *Snapshots) fill(ctx context.Context, caller *warder.User, id string, set savedSettings, size int64, fill func(b *warder.Agent) error) error {
	defer s.locks.Lock(id)()
	b, err := s.store.Agent(ctx, id)
	if err != nil {
		return err
	}
	if set.SealedSecrets != "" {
		b.SealedSecrets = set.SealedSecrets
		b.ContainerConfig.SecretEnvNames = slices.Clone(set.ContainerConfig.SecretEnvNames)
		if err := s.store.UpdateAgent(ctx, b); err != nil {
			return err
		}
	}
	if err := s.agents.filesWorkload(ctx, b, caller.ReadOnly); err != nil {
		return err
	}
	// As an upload: the owner's workspaces take turns with this check.
	defer s.locks.Lock("workspace:" + b.UserID)()
	if err := s.files.checkRoom(ctx, b, size); err != nil {
		return err
	}
	return fill(b)
}
