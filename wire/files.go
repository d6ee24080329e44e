package wire

import "time"

// Workspace is one workspace as the runtime reports it.
type Workspace struct {
	Name string `json:"name"`
	// AgentID and UserID are the labels it was made with.
	AgentID   string    `json:"agent_id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	// Attached says its agent still exists; a workspace kept after its
	// agent was deleted is not.
	Attached bool `json:"attached"`
	// SizeBytes is what its files use, measured when listed; -1 when it
	// could not be measured.
	SizeBytes int64 `json:"size_bytes"`
}

// FileInfo is one entry of a workspace directory.
type FileInfo struct {
	// Name is the entry's name; Path its path below the workspace root.
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	Type    string    `json:"type"` // "file", "dir", "symlink" or "other"
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"` // as ls shows it, e.g. "-rw-r--r--"
	ModTime time.Time `json:"mod_time"`
}

// File types a FileInfo names.
const (
	FileTypeFile    = "file"
	FileTypeDir     = "dir"
	FileTypeSymlink = "symlink"
	FileTypeOther   = "other"
)

// DirListing is GET /api/agents/{id}/files/{path} of a directory.
type DirListing struct {
	Path    string      `json:"path"`
	Entries []*FileInfo `json:"entries"`
}

// FileWritten answers a PUT of a file or a tar.
type FileWritten struct {
	Path  string `json:"path"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// WorkspacesResponse is GET /api/workspaces.
type WorkspacesResponse struct {
	Workspaces []*Workspace `json:"workspaces"`
}

// ExecRequest is the body of POST /api/agents/{id}/exec.
type ExecRequest struct {
	// Cmd is the program and its arguments, run without a shell.
	Cmd []string `json:"cmd"`
	// Env adds variables to the agent's own.
	Env map[string]string `json:"env,omitempty"`
	// Timeout is a duration ("30s"); the process is killed after it.
	// Default DefaultExecTimeout, at most MaxExecTimeout.
	Timeout string `json:"timeout,omitempty"`
	// Stdin is written to the process's standard input, which is then
	// closed.
	Stdin string `json:"stdin,omitempty"`
}

// ExecOutput is one piece of a command's output, an "stdout" or "stderr"
// event of the exec stream.
type ExecOutput struct {
	Data string `json:"data"`
}

// ExecResult ends an exec stream (event "exit").
type ExecResult struct {
	ExitCode int  `json:"exit_code"`
	TimedOut bool `json:"timed_out"`
	// DurationMS is how long the command ran, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}
