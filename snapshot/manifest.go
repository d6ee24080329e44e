package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/warder/warder"
)

// Format names how a snapshot's data object is made: a tar stream of the
// workspace compressed with zstd.
const Format = "tar+zstd"

// maxManifestBytes bounds a manifest, read or written.
const maxManifestBytes = 1 << 20

// Meta is what the caller says about a snapshot it saves.
type Meta struct {
	AgentID string
	Owner   string // the agent's owner's user id
	Name    string
	// Settings is the agent's settings as the caller stores them (JSON;
	// env and secrets still sealed), for restore and fork to put back.
	Settings json.RawMessage
	// MaxBytes bounds this snapshot's stored bytes more tightly than
	// Config.MaxBytes (what is left of the owner's quota, say); 0 for
	// Config's bound alone.
	MaxBytes int64
}

// Manifest describes one complete snapshot: it is written after the data
// object is stored whole, so a snapshot with a manifest is complete.
type Manifest struct {
	ID        string    `json:"id"`
	AgentID   string    `json:"agent_id"`
	Owner     string    `json:"owner"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Format    string    `json:"format"`
	// TarBytes is the workspace's tar stream's length; StoredBytes the
	// data object's (compressed) length, the one that counts against
	// quotas; SHA256 the hex digest of the data object's bytes.
	TarBytes    int64           `json:"tar_bytes"`
	StoredBytes int64           `json:"stored_bytes"`
	SHA256      string          `json:"sha256"`
	Settings    json.RawMessage `json:"settings,omitempty"`
}

// Keys under which a snapshot's objects live: <agent>/<id>.tar.zst and,
// once that is complete, <agent>/<id>.json.
const (
	dataSuffix     = ".tar.zst"
	manifestSuffix = ".json"
)

func dataKey(agentID, id string) string     { return agentID + "/" + id + dataSuffix }
func manifestKey(agentID, id string) string { return agentID + "/" + id + manifestSuffix }

// checkIDs rejects an agent or snapshot id that cannot be a key segment.
func checkIDs(agentID, id string) error {
	if !validSegment(agentID) || len(agentID) > 128 {
		return warder.Errorf(warder.ErrInvalid, "snapshot: bad agent id %q", agentID)
	}
	if !validSegment(id) || len(id) > 128 {
		return warder.Errorf(warder.ErrNotFound, "snapshot %q not found", id)
	}
	return nil
}

func (m *Manifest) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, warder.Errorf(warder.ErrInvalid, "snapshot: manifest: %v", err)
	}
	if len(b) > maxManifestBytes {
		return nil, warder.Errorf(warder.ErrTooLarge, "snapshot: settings too large (manifest over %d bytes)", maxManifestBytes)
	}
	return b, nil
}

// readManifest reads and checks the manifest of agentID's snapshot id.
func readManifest(ctx context.Context, st Store, agentID, id string) (*Manifest, error) {
	rc, _, err := st.Get(ctx, manifestKey(agentID, id))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot: read manifest: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if len(b) > maxManifestBytes || dec.Decode(&m) != nil || m.ID != id || m.AgentID != agentID || m.Format != Format {
		return nil, fmt.Errorf("%w: manifest of %s/%s unreadable", ErrCorrupt, agentID, id)
	}
	return &m, nil
}
