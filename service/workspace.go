package service

import (
	"context"
	"errors"
	"io"
	"path"

	"github.com/warder/warder"
)

// Files is workspaces, the files in them, and commands run in agents.
type Files struct {
	*core
	agents    *Agents
	cfg       WorkspaceConfig
	term      TerminalConfig
	execSlots execSlots // commands running now, per agent and user
	fileSlots fileSlots // files calls running now, per user
}

func newFiles(c *core, agents *Agents, cfg WorkspaceConfig, term TerminalConfig) *Files {
	cfg.defaults()
	return &Files{core: c, agents: agents, cfg: cfg, term: term}
}

// WorkspaceConfig bounds workspaces, uploads and exec. Zero values take
// the defaults below.
type WorkspaceConfig struct {
	// AgentBytes bounds one workspace (WARDER_MAX_WORKSPACE_BYTES), and
	// UserBytes all of one user's, kept ones included
	// (WARDER_MAX_WORKSPACE_BYTES_PER_USER); -1 is unbounded.
	AgentBytes int64
	UserBytes  int64
	// UploadBytes bounds one PUT (WARDER_MAX_UPLOAD_BYTES).
	UploadBytes int64
	// SpoolDir is where an upload waits, checked, before it is written
	// into the workspace; "" is the system's temporary directory.
	SpoolDir string
	// ExecsPerAgent and ExecsPerUser bound the commands running at once
	// (WARDER_MAX_EXECS_PER_AGENT, WARDER_MAX_EXECS_PER_USER), on one
	// Warder process.
	ExecsPerAgent int
	ExecsPerUser  int
	// ListLimit bounds a directory listing's entries.
	ListLimit int
	// FileOpsPerUser bounds the files calls (stat, list, read, write,
	// delete) of one user running at once on one Warder process
	// (WARDER_MAX_FILE_OPS_PER_USER).
	FileOpsPerUser int
}

// Defaults of WorkspaceConfig.
const (
	DefaultWorkspaceBytes        = 1 << 30
	DefaultWorkspaceBytesPerUser = 10 << 30
	DefaultUploadBytes           = 256 << 20
	DefaultExecsPerAgent         = 4
	DefaultExecsPerUser          = 8
	DefaultListLimit             = 10000
	DefaultFileOpsPerUser        = 4
)

func (c *WorkspaceConfig) defaults() {
	if c.AgentBytes == 0 {
		c.AgentBytes = DefaultWorkspaceBytes
	}
	if c.UserBytes == 0 {
		c.UserBytes = DefaultWorkspaceBytesPerUser
	}
	if c.UploadBytes <= 0 {
		c.UploadBytes = DefaultUploadBytes
	}
	if c.ExecsPerAgent <= 0 {
		c.ExecsPerAgent = DefaultExecsPerAgent
	}
	if c.ExecsPerUser <= 0 {
		c.ExecsPerUser = DefaultExecsPerUser
	}
	if c.ListLimit <= 0 {
		c.ListLimit = DefaultListLimit
	}
	if c.FileOpsPerUser <= 0 {
		c.FileOpsPerUser = DefaultFileOpsPerUser
	}
}

// The runtime's optional parts, or ErrNotSupported saying which is
// missing.
func (s *Files) workspaces() (warder.WorkspaceRuntime, warder.FileRuntime, error) {
	p := s.rt.Parts()
	if p.Workspaces == nil || p.Files == nil {
		return nil, nil, warder.Errorf(warder.ErrNotSupported, "the %s runtime has no workspaces", s.rt.Info().Name)
	}
	return p.Workspaces, p.Files, nil
}

func (s *Files) execs() (warder.ExecRuntime, error) {
	er := s.rt.Parts().Exec
	if er == nil {
		return nil, warder.Errorf(warder.ErrNotSupported, "the %s runtime cannot run commands in agents", s.rt.Info().Name)
	}
	return er, nil
}

// fileCall is what one files call reaches: the runtime, the agent, its
// container and the cleaned path. It holds one of the owner's file
// operation slots until done is called.
type fileCall struct {
	fr   warder.FileRuntime
	a    *warder.Agent
	cid  string
	rel  string
	done func()
}

// fileTarget is the container whose workspace the caller's call on
// agent id reaches, made (not started, and publishing no port) if the
// agent has none: the runtime's file calls work on a stopped container.
// The caller calls done when the call has ended.
func (s *Files) fileTarget(ctx context.Context, caller *warder.User, id, p string) (*fileCall, error) {
	_, fr, err := s.workspaces()
	if err != nil {
		return nil, err
	}
	rel, err := warder.CleanPath(p)
	if err != nil {
		return nil, err
	}
	if err := validID(id); err != nil {
		return nil, err
	}
	unlock := s.locks.Lock(id)
	defer unlock()
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	done, err := s.fileSlots.take(a.UserID, s.cfg.FileOpsPerUser)
	if err != nil {
		return nil, err
	}
	s.touch(ctx, a)
	if err := s.agents.wakeLocked(ctx, caller, a, "files"); err != nil {
		done()
		return nil, err
	}
	if err := s.agents.filesWorkload(ctx, a, caller.ReadOnly); err != nil {
		done()
		return nil, err
	}
	return &fileCall{fr: fr, a: a, cid: a.ContainerID, rel: rel, done: done}, nil
}

// StatFile describes path in the agent's workspace.
func (s *Files) StatFile(ctx context.Context, caller *warder.User, id, p string) (warder.FileInfo, error) {
	c, err := s.fileTarget(ctx, caller, id, p)
	if err != nil {
		return warder.FileInfo{}, err
	}
	defer c.done()
	return c.fr.StatFile(ctx, c.cid, c.rel)
}

// ListDir lists a directory of the agent's workspace.
func (s *Files) ListDir(ctx context.Context, caller *warder.User, id, p string) (*warder.DirListing, error) {
	c, err := s.fileTarget(ctx, caller, id, p)
	if err != nil {
		return nil, err
	}
	defer c.done()
	entries, err := c.fr.ListDir(ctx, c.cid, c.rel, s.cfg.ListLimit)
	if err != nil {
		return nil, err
	}
	return &warder.DirListing{Path: c.rel, Entries: entries}, nil
}

// ReadTar streams path as a tar; the slot is held until it is closed.
func (s *Files) ReadTar(ctx context.Context, caller *warder.User, id, p string) (io.ReadCloser, error) {
	c, err := s.fileTarget(ctx, caller, id, p)
	if err != nil {
		return nil, err
	}
	rc, err := c.fr.ReadTar(ctx, c.cid, c.rel)
	if err != nil {
		c.done()
		return nil, err
	}
	return &doneReadCloser{ReadCloser: rc, done: c.done}, nil
}

// doneReadCloser calls done once it is closed.
type doneReadCloser struct {
	io.ReadCloser
	done func()
}

func (d *doneReadCloser) Close() error {
	err := d.ReadCloser.Close()
	d.done()
	return err
}

// RemoveFile deletes path (and what is under it) from the workspace.
func (s *Files) RemoveFile(ctx context.Context, caller *warder.User, id, p string) error {
	c, err := s.fileTarget(ctx, caller, id, p)
	if err != nil {
		return err
	}
	defer c.done()
	if c.rel == "" {
		return warder.Errorf(warder.ErrInvalid, "the workspace root cannot be deleted; delete what is in it")
	}
	return c.fr.RemoveFile(ctx, c.cid, c.rel)
}

// DeleteAgent deletes the agent and its workspace.
func (s *Agents) DeleteAgent(ctx context.Context, caller *warder.User, id string) error {
	return s.DeleteAgentWith(ctx, caller, id, warder.DeleteOptions{})
}

// Workspaces lists the caller's workspaces (an admin's: all), each with
// its size measured now and whether its agent still exists.
func (s *Files) Workspaces(ctx context.Context, caller *warder.User) ([]*warder.Workspace, error) {
	wr, _, err := s.workspaces()
	if err != nil {
		return nil, err
	}
	all, err := wr.Workspaces(ctx)
	if err != nil {
		return nil, err
	}
	out := []*warder.Workspace{}
	for _, w := range all {
		if w.UserID != caller.ID && !caller.IsAdmin() {
			continue
		}
		if err := s.describe(ctx, wr, w); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// describe fills in whether w's agent exists and its size.
func (s *Files) describe(ctx context.Context, wr warder.WorkspaceRuntime, w *warder.Workspace) error {
	_, err := s.store.Agent(ctx, w.AgentID)
	switch {
	case err == nil:
		w.Attached = true
	case !errors.Is(err, warder.ErrNotFound) && !errors.Is(err, warder.ErrInvalid):
		return err
	}
	n, err := wr.WorkspaceUsage(ctx, w.Name)
	if errors.Is(err, warder.ErrNotFound) {
		n = -1 // removed meanwhile
	} else if err != nil {
		return err
	}
	w.SizeBytes = n
	return nil
}

// DeleteWorkspace deletes a workspace of the caller's that no agent
// holds: one kept when its agent was deleted.
func (s *Files) DeleteWorkspace(ctx context.Context, caller *warder.User, name string) error {
	wr, _, err := s.workspaces()
	if err != nil {
		return err
	}
	all, err := wr.Workspaces(ctx)
	if err != nil {
		return err
	}
	for _, w := range all {
		if w.Name != name || (w.UserID != caller.ID && !caller.IsAdmin()) {
			continue
		}
		if _, err := s.store.Agent(ctx, w.AgentID); err == nil {
			return warder.Errorf(warder.ErrConflict, "workspace %s belongs to agent %s: delete the agent (DELETE /api/agents/%s) to delete it", name, w.AgentID, w.AgentID)
		} else if !errors.Is(err, warder.ErrNotFound) && !errors.Is(err, warder.ErrInvalid) {
			return err
		}
		return wr.RemoveWorkspace(ctx, name)
	}
	return warder.Errorf(warder.ErrNotFound, "workspace not found")
}

// removeWorkspace deletes an agent's workspace as the agent is deleted.
func (s *core) removeWorkspace(ctx context.Context, a *warder.Agent) error {
	wr := s.rt.Parts().Workspaces
	if wr == nil {
		return nil // no workspaces: nothing to remove
	}
	return wr.RemoveWorkspace(ctx, warder.WorkspaceName(a.ID))
}

// userWorkspaceBytes is what all of a user's workspaces use now, kept
// ones included, but for skip's.
func (s *Files) userWorkspaceBytes(ctx context.Context, wr warder.WorkspaceRuntime, userID, skip string) (int64, error) {
	all, err := wr.Workspaces(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, w := range all {
		if w.UserID != userID || w.Name == skip {
			continue
		}
		n, err := wr.WorkspaceUsage(ctx, w.Name)
		if errors.Is(err, warder.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// checkRoom refuses an upload of n bytes that would take the agent's
// workspace past its bound or the owner's workspaces past theirs.
// Bytes an upload replaces are not subtracted: the check errs on the
// safe side.
func (s *Files) checkRoom(ctx context.Context, a *warder.Agent, n int64) error {
	wr, _, err := s.workspaces()
	if err != nil {
		return err
	}
	c := s.cfg
	name := warder.WorkspaceName(a.ID)
	used, err := wr.WorkspaceUsage(ctx, name)
	if errors.Is(err, warder.ErrNotFound) {
		used = 0
	} else if err != nil {
		return err
	}
	if c.AgentBytes > 0 && used+n > c.AgentBytes {
		return over("workspace_bytes", "the workspace uses %d bytes, this upload adds %d, %d allowed per agent (WARDER_MAX_WORKSPACE_BYTES)", used, n, c.AgentBytes)
	}
	if c.UserBytes > 0 {
		others, err := s.userWorkspaceBytes(ctx, wr, a.UserID, name)
		if err != nil {
			return err
		}
		if others+used+n > c.UserBytes {
			return over("workspace_bytes_per_user", "your workspaces use %d bytes, this upload adds %d, %d allowed per user (WARDER_MAX_WORKSPACE_BYTES_PER_USER)", others+used, n, c.UserBytes)
		}
	}
	return nil
}

// cleanTarget splits an upload's target, a file below the workspace
// root, into its directory and name.
func cleanTarget(p string) (dir, base string, err error) {
	rel, err := warder.CleanPath(p)
	if err != nil {
		return "", "", err
	}
	if rel == "" {
		return "", "", warder.Errorf(warder.ErrInvalid, "a file needs a name: PUT /api/agents/{id}/files/<path>")
	}
	dir, base = path.Split(rel)
	return path.Clean("/" + dir)[1:], base, nil
}
