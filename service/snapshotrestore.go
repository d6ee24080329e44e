package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"sync"

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
// from the snapshot, and started again. The whole snapshot is read (into
// a spool file) and its checksum verified before the workspace is
// touched, so a damaged snapshot leaves the workspace as it was.
func (s *Snapshots) RestoreSnapshot(ctx context.Context, caller *warder.User, id, sid string) (*warder.Agent, error) {
	fr, err := s.fileRuntime()
	if err != nil {
		return nil, err
	}
	arch, err := s.archive()
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
		stored, err := s.spooled(ctx, arch, m)
		if err != nil {
			return err
		}
		defer stored.Close()
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
		tr, err := arch.OpenFetched(m, io.NewSectionReader(stored, 0, m.StoredBytes))
		if err != nil {
			return err
		}
		defer tr.Close()
		if _, err := writeTree(ctx, fr, a.ContainerID, tr); err != nil {
			return damaged(m, err)
		}
		if running {
			return s.agents.start(context.WithoutCancel(ctx), caller, a)
		}
		return nil
	})
}

// spooled copies the snapshot as stored (compressed) into a temporary
// file of the spool directory (the uploads' one), checking its size and
// SHA-256 against its manifest as it goes, and returns the file, removed
// when closed. So the workspace is touched only once the snapshot is
// known whole, and filled from a local file: the store is read once,
// and cannot fail half-way through; and what is spooled is the stored
// bytes, not the tar (half as many, written and read once each, for a
// typical workspace).
func (s *Snapshots) spooled(ctx context.Context, arch *snapshot.Archive, m *snapshot.Manifest) (*spoolFile, error) {
	f, err := s.files.spoolFile()
	if err != nil {
		return nil, err
	}
	sf := &spoolFile{f}
	_, err = arch.Fetch(ctx, m.AgentID, m.ID, f)
	if err != nil {
		sf.Close()
		return nil, damaged(m, err)
	}
	return sf, nil
}

// spoolFile is a temporary file removed when closed.
type spoolFile struct{ *os.File }

func (f *spoolFile) Close() error {
	err := f.File.Close()
	os.Remove(f.Name())
	return err
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
	return s.fork(ctx, caller, req, settingsOf(src), warder.WorkspaceName(src.ID), -1, func(b *warder.Agent) error {
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
	arch, err := s.archive()
	if err != nil {
		return nil, err
	}
	return s.fork(ctx, caller, req, set, "", m.TarBytes, func(b *warder.Agent) error {
		_, err := arch.Restore(ctx, m.AgentID, m.ID, func(tr io.Reader) error {
			_, err := writeTree(ctx, fr, b.ContainerID, tr)
			return err
		})
		return damaged(m, err)
	})
}

// fork makes the new agent from set (through CreateAgent: the caller's
// image policy and quotas apply), gives it set's sealed secrets, fills
// its workspace with fill and starts it if asked. The caller's
// workspace bounds are checked first for a workspace of size bytes (or,
// with size -1, of workspace src's size). On any failure after the
// create, the new agent is deleted.
func (s *Snapshots) fork(ctx context.Context, caller *warder.User, req warder.ForkRequest, set savedSettings, src string, size int64, fill func(b *warder.Agent) error) (*warder.Agent, error) {
	// As an upload: the owner's workspaces take turns with this check
	// until the new one is filled.
	unlock := s.locks.Lock("workspace:" + caller.ID)
	defer func() { unlock() }()
	if err := s.forkRoom(ctx, caller.ID, src, size); err != nil {
		return nil, err
	}
	cc := set.ContainerConfig.Clone()
	cc.SecretEnv, cc.AutoStart = nil, false
	b, err := s.agents.CreateAgent(ctx, caller, warder.AgentCreate{Name: req.Name, Description: set.Description,
		Type: set.Type, Config: set.Config, ContainerConfig: cc, KnowledgeBase: set.KnowledgeBase})
	if err != nil {
		return nil, err
	}
	err = s.fill(ctx, caller, b.ID, set, req.Start, fill)
	unlock()
	unlock = func() {}
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

// fill gives the new agent id its secrets, a workload and its
// workspace, under its lock. An agent about to start gets the workload
// it starts with (publishing its port), so the start finds it made; one
// that is not gets one for its files alone, holding no port.
func (s *Snapshots) fill(ctx context.Context, caller *warder.User, id string, set savedSettings, start bool, fill func(b *warder.Agent) error) error {
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
	if start {
		if _, _, err := s.agents.ensureWorkload(ctx, b, nil, false); err != nil {
			return err
		}
		if err := s.store.UpdateAgent(ctx, b); err != nil {
			return err
		}
	} else if err := s.agents.filesWorkload(ctx, b, caller.ReadOnly); err != nil {
		return err
	}
	return fill(b)
}

// forkRoom refuses a new workspace of size bytes (-1: as large as
// workspace src is now) that would take the owner's workspaces past
// WARDER_MAX_WORKSPACE_BYTES_PER_USER, or be over
// WARDER_MAX_WORKSPACE_BYTES itself. The owner's workspaces are
// measured once, a few at a time.
func (s *Snapshots) forkRoom(ctx context.Context, owner, src string, size int64) error {
	c := s.files.cfg
	wr := s.rt.Parts().Workspaces
	if wr == nil || (c.UserBytes <= 0 && (size < 0 || c.AgentBytes <= 0)) {
		return nil // nothing to check: a live workspace is within the agent bound already
	}
	all, err := wr.Workspaces(ctx)
	if err != nil {
		return err
	}
	var names []string
	owned := map[string]bool{}
	for _, w := range all {
		if w.UserID == owner || (w.Name == src && size < 0) {
			names = append(names, w.Name)
			owned[w.Name] = w.UserID == owner
		}
	}
	use := make([]int64, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 4)
	for i, name := range names {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			use[i], errs[i] = wr.WorkspaceUsage(ctx, name)
			if errors.Is(errs[i], warder.ErrNotFound) {
				use[i], errs[i] = 0, nil
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var total int64
	for i, name := range names {
		if name == src && size < 0 {
			size = use[i]
		}
		if owned[name] {
			total += use[i]
		}
	}
	if c.AgentBytes > 0 && size > c.AgentBytes {
		return over("workspace_bytes", "the copy takes %d bytes, %d allowed per agent (WARDER_MAX_WORKSPACE_BYTES)", size, c.AgentBytes)
	}
	if c.UserBytes > 0 && total+size > c.UserBytes {
		return over("workspace_bytes_per_user", "your workspaces use %d bytes, the copy adds %d, %d allowed per user (WARDER_MAX_WORKSPACE_BYTES_PER_USER)", total, size, c.UserBytes)
	}
	return nil
}
