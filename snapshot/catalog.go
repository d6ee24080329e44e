package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/warder/warder"
)

// List returns agentID's complete snapshots, oldest first; with agentID
// "" every agent's (for a per-user total: add up StoredBytes by Owner).
// A snapshot is complete when its manifest and its data object are both
// there: a Save or Delete cut short by a crash leaves neither listed.
func (a *Archive) List(ctx context.Context, agentID string) ([]*Manifest, error) {
	prefix := ""
	if agentID != "" {
		if err := checkIDs(agentID, "x"); err != nil {
			return nil, err
		}
		prefix = agentID + "/"
	}
	objs, err := a.st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(objs))
	for _, o := range objs {
		have[o.Key] = true
	}
	var out []*Manifest
	for _, o := range objs {
		agent, id, ok := splitKey(o.Key, manifestSuffix)
		if !ok || !have[dataKey(agent, id)] {
			continue
		}
		m, err := readManifest(ctx, a.st, agent, id)
		if errors.Is(err, warder.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Get returns the manifest of agentID's complete snapshot id.
func (a *Archive) Get(ctx context.Context, agentID, id string) (*Manifest, error) {
	if err := checkIDs(agentID, id); err != nil {
		return nil, err
	}
	if _, err := a.st.Stat(ctx, dataKey(agentID, id)); err != nil {
		return nil, err
	}
	return readManifest(ctx, a.st, agentID, id)
}

// Delete removes agentID's snapshot id: the manifest first, so a delete
// cut short leaves a data object that is no longer listed (Cleanup
// removes it). A snapshot already gone is success.
func (a *Archive) Delete(ctx context.Context, agentID, id string) error {
	if err := checkIDs(agentID, id); err != nil {
		return err
	}
	if err := a.st.Delete(ctx, manifestKey(agentID, id)); err != nil {
		return fmt.Errorf("snapshot: delete: %w", err)
	}
	if err := a.st.Delete(ctx, dataKey(agentID, id)); err != nil {
		return fmt.Errorf("snapshot: delete: %w", err)
	}
	return nil
}

// Cleanup removes what interrupted Saves and Deletes left that is older
// than age: the store's unfinished writes, and data objects that have no
// manifest. age must be longer than the longest Save takes (a data object
// waits for its manifest only for one small write, but an unfinished
// upload is as old as its Save). It says how many objects it removed.
func (a *Archive) Cleanup(ctx context.Context, age time.Duration) (int, error) {
	before := time.Now().Add(-age)
	n, err := a.st.RemoveIncomplete(ctx, before)
	if err != nil {
		return n, err
	}
	objs, err := a.st.List(ctx, "")
	if err != nil {
		return n, err
	}
	have := make(map[string]bool, len(objs))
	for _, o := range objs {
		have[o.Key] = true
	}
	for _, o := range objs {
		agent, id, ok := splitKey(o.Key, dataSuffix)
		if !ok || have[manifestKey(agent, id)] || !o.ModTime.Before(before) {
			continue
		}
		if err := a.st.Delete(ctx, o.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// splitKey parses "<agent>/<id><suffix>".
func splitKey(key, suffix string) (agent, id string, ok bool) {
	agent, rest, ok := strings.Cut(key, "/")
	if !ok || !strings.HasSuffix(rest, suffix) || strings.Contains(rest, "/") {
		return "", "", false
	}
	id = strings.TrimSuffix(rest, suffix)
	return agent, id, validSegment(id)
}
