package warder

import "github.com/warder/warder/wire"

// Snapshots are the API's shapes, defined in package wire.
type (
	Snapshot          = wire.Snapshot
	SnapshotsResponse = wire.SnapshotsResponse
)

// SnapshotRequest is the body of POST /api/agents/{id}/snapshots
// (wire.SnapshotRequest), with the server's checks.
type SnapshotRequest wire.SnapshotRequest

// Validate checks the snapshot's name: 1 to 100 printable characters.
func (r *SnapshotRequest) Validate() error {
	var err error
	r.Name, err = validName(r.Name)
	return err
}

// ForkRequest is the body of POST /api/agents/{id}/fork
// (wire.ForkRequest), with the server's checks.
type ForkRequest wire.ForkRequest

// Validate checks the new agent's name; the snapshot id is checked
// where it is looked up.
func (r *ForkRequest) Validate() error {
	var err error
	r.Name, err = validName(r.Name)
	return err
}
