package warder

import (
	"context"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// WorkspaceMountPath is where an agent's workspace is mounted in its
// container: the one writable place that outlives the container (the
// root is read-only, /tmp a small tmpfs that goes with it).
const WorkspaceMountPath = "/data"

// LabelWorkspace marks a workspace (a Docker volume) as this
// deployment's, like LabelManaged on containers; its value is the
// deployment's network.
const LabelWorkspace = "warder.workspace"

// WorkspaceName is the name of an agent's workspace (a Docker volume, a
// PersistentVolumeClaim), derived from its id so it never changes when the
// agent is renamed or its container is made again.
func WorkspaceName(agentID string) string { return "warder-ws-" + agentID }

// WorkspaceSpec is the persistent storage a runtime mounts into an
// agent's workload (WorkloadSpec.Workspace), on a runtime with
// Parts().Workspaces.
type WorkspaceSpec struct {
	// Name is the volume's name (WorkspaceName); the same name is the same
	// storage across the workload's re-creations.
	Name string
	// MountPath is where the workload sees it (WorkspaceMountPath).
	MountPath string
	// SizeBytes bounds it where the storage driver can (0: no bound);
	// Warder also refuses uploads past it (see docs/security.md).
	SizeBytes int64
	// Labels go on the volume: the deployment, the agent and its owner.
	Labels map[string]string
}

// Workspaces, their files and an exec's output are the API's shapes,
// defined in package wire (docs/architecture.md, "Wire types").
type (
	Workspace          = wire.Workspace
	FileInfo           = wire.FileInfo
	DirListing         = wire.DirListing
	FileWritten        = wire.FileWritten
	WorkspacesResponse = wire.WorkspacesResponse
	ExecOutput         = wire.ExecOutput
	ExecResult         = wire.ExecResult
)

// File types a FileInfo names.
const (
	FileTypeFile    = wire.FileTypeFile
	FileTypeDir     = wire.FileTypeDir
	FileTypeSymlink = wire.FileTypeSymlink
	FileTypeOther   = wire.FileTypeOther
)

// ExecRequest is the body of POST /api/agents/{id}/exec
// (wire.ExecRequest), with the server's checks.
type ExecRequest wire.ExecRequest

// NewFileInfo describes the entry rel (named name) of a workspace; the
// root itself ("") has no name.
func NewFileInfo(rel, name string, mode fs.FileMode, size int64, mtime time.Time) FileInfo {
	typ := FileTypeOther
	switch {
	case mode.IsDir():
		typ = FileTypeDir
	case mode&fs.ModeSymlink != 0:
		typ = FileTypeSymlink
	case mode.IsRegular():
		typ = FileTypeFile
	}
	if rel == "" {
		name = ""
	}
	return FileInfo{Name: name, Path: rel, Type: typ, Size: size, Mode: mode.String(), ModTime: mtime.UTC()}
}

// DeleteOptions are the choices of DELETE /api/agents/{id}.
type DeleteOptions struct {
	// KeepWorkspace keeps the agent's workspace after the agent is gone:
	// its owner lists it with GET /api/workspaces and deletes it there.
	KeepWorkspace bool
	// KeepSnapshots keeps the agent's snapshots after the agent is gone:
	// its owner lists them with GET /api/snapshots, forks from them and
	// deletes them (docs/snapshots.md).
	KeepSnapshots bool
}

// MaxNameBytes is the longest name of one file or directory in a
// workspace (Linux filesystems' NAME_MAX).
const MaxNameBytes = 255

// CleanPath checks a path a caller gives for a file in a workspace and
// returns it cleaned and relative to the workspace root ("" is the root
// itself). It refuses absolute paths, any ".." element, NUL bytes,
// backslashes, paths over 4096 bytes and names (path elements) over
// MaxNameBytes: a path names something inside the workspace or nothing.
// Symlinks are the runtime's to refuse (see FileRuntime).
func CleanPath(p string) (string, error) {
	if len(p) > 4096 {
		return "", Errorf(ErrInvalid, "path is longer than 4096 bytes")
	}
	if strings.HasPrefix(p, "/") {
		return "", Errorf(ErrInvalid, "path %q must be relative to the workspace (%s), not absolute", clipPath(p), WorkspaceMountPath)
	}
	if strings.ContainsAny(p, "\x00\\") {
		return "", Errorf(ErrInvalid, "path %q holds a NUL byte or a backslash", clipPath(p))
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", Errorf(ErrInvalid, "path %q must not contain \"..\": it would leave the workspace", clipPath(p))
		}
		if len(el) > MaxNameBytes {
			return "", Errorf(ErrInvalid, "path %q has a name longer than %d bytes, more than a filesystem allows", clipPath(p), MaxNameBytes)
		}
	}
	c := path.Clean("/" + p)[1:]
	return c, nil
}

func clipPath(p string) string {
	if len(p) > 200 {
		return p[:200] + "…"
	}
	return p
}

// Exec bounds.
const (
	DefaultExecTimeout = time.Minute
	MaxExecTimeout     = time.Hour
)

// Validate checks the request and returns its timeout.
func (r *ExecRequest) Validate() (time.Duration, error) {
	if len(r.Cmd) == 0 || r.Cmd[0] == "" {
		return 0, Errorf(ErrInvalid, "cmd must name a program: [\"/warder-agent\", \"ls\", \"/data\"]")
	}
	if len(r.Cmd) > 256 {
		return 0, Errorf(ErrInvalid, "cmd has %d elements; at most 256 are allowed", len(r.Cmd))
	}
	for _, a := range r.Cmd {
		if strings.ContainsRune(a, 0) || len(a) > 32<<10 {
			return 0, Errorf(ErrInvalid, "an element of cmd holds a NUL byte or is over 32 KiB")
		}
	}
	if len(r.Env) > 200 {
		return 0, Errorf(ErrInvalid, "env has %d entries; at most 200 are allowed", len(r.Env))
	}
	for k, v := range r.Env {
		if !envNameRe.MatchString(k) || len(k) > 128 {
			return 0, Errorf(ErrInvalid, "env: %q is not a valid variable name", k)
		}
		if strings.ContainsRune(v, 0) || len(v) > 32<<10 {
			return 0, Errorf(ErrInvalid, "env: the value of %s contains a NUL byte or is over 32 KiB", k)
		}
	}
	timeout := DefaultExecTimeout
	if r.Timeout != "" {
		d, err := time.ParseDuration(r.Timeout)
		if err != nil || d <= 0 || d > MaxExecTimeout {
			return 0, Errorf(ErrInvalid, "timeout %q must be a duration such as 30s, above 0 and at most %s", r.Timeout, MaxExecTimeout)
		}
		timeout = d
	}
	return timeout, nil
}

// ExecSpec is what a runtime runs for ExecRuntime.Exec.
type ExecSpec struct {
	Cmd   []string
	Env   map[string]string
	Stdin io.Reader // nil: none
	TTY   *TTY      // nil: no terminal (see TTY)
}

// WorkspaceRuntime is what a runtime with Parts().Workspaces does with
// workspaces beyond mounting them (WorkloadSpec.Workspace). Every
// method is safe for concurrent use; workspaces are named by
// WorkspaceName.
type WorkspaceRuntime interface {
	// Workspaces lists this deployment's workspaces (Attached and
	// SizeBytes are the caller's to fill).
	Workspaces(ctx context.Context) ([]*Workspace, error)
	// WorkspaceUsage is the bytes the files of workspace name use.
	// A workspace that does not exist is ErrNotFound.
	WorkspaceUsage(ctx context.Context, name string) (int64, error)
	// RemoveWorkspace deletes the workspace and its files; one that is
	// already gone is success. A workload still using it is ErrConflict.
	RemoveWorkspace(ctx context.Context, name string) error
}

// FileRuntime reads and writes the files of a workload's workspace
// (Parts().Workspaces). It works whether the workload runs or not.
// Paths are relative to the workspace root and already cleaned by
// CleanPath; a runtime refuses (ErrInvalid) a path any element of which
// is a symlink, at any depth, including one the workload makes while the
// call runs: a link is never followed, so nothing outside the workspace
// is reached, and everything a call makes belongs to the workload's user.
type FileRuntime interface {
	// StatFile describes the entry at path; absent is ErrNotFound.
	StatFile(ctx context.Context, id, path string) (FileInfo, error)
	// ListDir lists a directory's entries, at most limit of them.
	ListDir(ctx context.Context, id, path string, limit int) ([]*FileInfo, error)
	// ReadTar streams path (a file or a directory and everything under
	// it) as a tar whose names are relative to path's parent. The caller
	// closes it.
	ReadTar(ctx context.Context, id, path string) (io.ReadCloser, error)
	// WriteTar extracts tr into directory dir (made if missing), owned by
	// the workload's user. The caller has checked every entry (no links,
	// no escaping names). If it fails, or ctx ends, what it made at the
	// top (dir, or the top-level names that were not there) is removed
	// before it returns, at a cost that does not grow with the names.
	WriteTar(ctx context.Context, id, dir string, tr io.Reader) error
	// RemoveFile deletes path and, for a directory, everything under it;
	// absent is success.
	RemoveFile(ctx context.Context, id, path string) error
}

// ExecRuntime runs commands in running workloads (Parts().Exec).
type ExecRuntime interface {
	// Exec runs spec in workload id as its own user, with no privilege
	// beyond the workload's, calling out with each piece of output as
	// it is written (stream is StreamStdout or StreamStderr), in order,
	// on the calling goroutine. It returns the exit code once the process
	// ends. When ctx ends first the process is killed and ctx.Err() is
	// returned. A workload that is not running is ErrConflict.
	Exec(ctx context.Context, id string, spec ExecSpec, out func(stream string, p []byte) error) (exitCode int, err error)
}
