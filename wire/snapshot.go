package wire

import "time"

// Snapshot is one saved copy of an agent's workspace, with the agent's
// settings (env as it was; secrets still sealed), as GET
// /api/agents/{id}/snapshots lists it.
type Snapshot struct {
	ID      string `json:"id"`
	AgentID string `json:"agent_id"`
	// UserID owns the snapshot: the agent's owner when it was taken.
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// SizeBytes is what the snapshot takes in the store (compressed):
	// what counts against the owner's snapshot bound.
	SizeBytes int64 `json:"size_bytes"`
	// WorkspaceBytes is the workspace's tar stream's length.
	WorkspaceBytes int64 `json:"workspace_bytes"`
	// SHA256 is the hex digest of the stored bytes, checked on restore.
	SHA256 string `json:"sha256"`
}

// SnapshotsResponse is the answer of GET /api/agents/{id}/snapshots and
// GET /api/snapshots, oldest first.
type SnapshotsResponse struct {
	Snapshots []*Snapshot `json:"snapshots"`
	// UsedBytes is what all the owner's snapshots take in the store, and
	// LimitBytes the owner's bound (-1: none).
	UsedBytes  int64 `json:"used_bytes"`
	LimitBytes int64 `json:"limit_bytes"`
}

// SnapshotRequest is the body of POST /api/agents/{id}/snapshots.
type SnapshotRequest struct {
	Name string `json:"name"`
}

// ForkRequest is the body of POST /api/agents/{id}/fork: a new agent of
// the caller's named Name, with the agent's settings and a copy of its
// workspace as it is now, or as snapshot Snapshot (of that agent) holds
// it; Start starts it once its workspace is filled.
type ForkRequest struct {
	Name     string `json:"name"`
	Snapshot string `json:"snapshot,omitempty"`
	Start    bool   `json:"start,omitempty"`
}
