package opensandbox

import (
	"context"
	"net/http"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// Snapshots are Warder's (docs/snapshots.md): taken synchronously, so a
// snapshot is Ready when its create answers.

func toSnapshot(s *wire.Snapshot) snapshotInfo {
	return snapshotInfo{ID: s.ID, SandboxID: s.AgentID, Name: s.Name, Status: snapshotStatus{State: "Ready"}, CreatedAt: s.CreatedAt}
}

func (h *Handler) createSnapshot(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	var req struct {
		Name string `json:"name"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	name := req.Name
	if name == "" {
		name = "snapshot-" + newID()
	}
	s, err := c.TakeSnapshot(r.Context(), r.PathValue("id"), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toSnapshot(s))
	return nil
}

func (h *Handler) listSnapshots(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	q := r.URL.Query()
	pageNo, size, err := paging(q)
	if err != nil {
		return err
	}
	all, err := c.AllSnapshots(r.Context())
	if err != nil {
		return err
	}
	items := []snapshotInfo{}
	for _, s := range all.Snapshots {
		si := toSnapshot(s)
		if (q.Get("sandboxId") == "" || q.Get("sandboxId") == s.AgentID) && (q.Get("name") == "" || q.Get("name") == s.Name) &&
			(len(q["state"]) == 0 || contains(q["state"], si.Status.State)) {
			items = append(items, si)
		}
	}
	items, p := page(items, pageNo, size)
	writeJSON(w, http.StatusOK, listSnapshots{Items: items, Pagination: p})
	return nil
}

func (h *Handler) getSnapshot(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	s, err := findSnapshot(r.Context(), c, r.PathValue("sid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSnapshot(s))
	return nil
}

func (h *Handler) deleteSnapshot(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	s, err := findSnapshot(r.Context(), c, r.PathValue("sid"))
	if err != nil {
		return err
	}
	if err := c.DeleteSnapshot(r.Context(), s.AgentID, s.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// findSnapshot finds one of the caller's snapshots by id.
func findSnapshot(ctx context.Context, c *client.Client, id string) (*wire.Snapshot, error) {
	all, err := c.AllSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range all.Snapshots {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, apiErr(http.StatusNotFound, "NOT_FOUND", "no snapshot "+id+" of yours")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
