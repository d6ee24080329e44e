package client

import (
	"context"
	"net/http"

	"github.com/warder/warder/wire"
)

func snapshotsPath(id string) string { return "/api/agents/" + seg(id) + "/snapshots" }

// TakeSnapshot saves the agent's workspace and settings as a snapshot
// named name.
func (c *Client) TakeSnapshot(ctx context.Context, id, name string) (*wire.Snapshot, error) {
	var s wire.Snapshot
	err := c.call(ctx, request{method: http.MethodPost, path: snapshotsPath(id), body: wire.SnapshotRequest{Name: name}}, &s)
	return result(&s, err)
}

// Snapshots lists the agent's snapshots, oldest first (those of a
// deleted agent too, when they were kept).
func (c *Client) Snapshots(ctx context.Context, id string) (*wire.SnapshotsResponse, error) {
	var r wire.SnapshotsResponse
	err := c.get(ctx, snapshotsPath(id), nil, &r)
	return result(&r, err)
}

// AllSnapshots lists the caller's snapshots (an admin's: everyone's).
func (c *Client) AllSnapshots(ctx context.Context) (*wire.SnapshotsResponse, error) {
	var r wire.SnapshotsResponse
	err := c.get(ctx, "/api/snapshots", nil, &r)
	return result(&r, err)
}

// DeleteSnapshot deletes one of the agent's snapshots.
func (c *Client) DeleteSnapshot(ctx context.Context, id, snapshotID string) error {
	_, err := c.message(ctx, http.MethodDelete, snapshotsPath(id)+"/"+seg(snapshotID), nil)
	return err
}

// RestoreSnapshot puts the agent's workspace back to the snapshot (a
// running agent is restarted) and returns the agent as it is then.
func (c *Client) RestoreSnapshot(ctx context.Context, id, snapshotID string) (*wire.Agent, error) {
	var a wire.Agent
	err := c.call(ctx, request{method: http.MethodPost, path: snapshotsPath(id) + "/" + seg(snapshotID) + "/restore"}, &a)
	return result(&a, err)
}

// ForkAgent makes a new agent of the caller's from the agent: its
// settings and a copy of its workspace, now or as req.Snapshot holds it.
func (c *Client) ForkAgent(ctx context.Context, id string, req wire.ForkRequest) (*wire.Agent, error) {
	var a wire.Agent
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/agents/" + seg(id) + "/fork", body: req}, &a)
	return result(&a, err)
}

// result is v, or nil with err.
func result[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
