package api

import (
	"context"
	"net/http"

	"github.com/warder/warder"
)

// SnapshotService is what the snapshot routes consume (service.Snapshots):
// snapshots of an agent's workspace and settings, restore and fork.
type SnapshotService interface {
	TakeSnapshot(ctx context.Context, caller *warder.User, id string, req warder.SnapshotRequest) (*warder.Snapshot, error)
	// ListSnapshots lists an agent's snapshots: those of an agent the
	// caller may see, or the caller's kept ones of a deleted agent.
	ListSnapshots(ctx context.Context, caller *warder.User, id string) (*warder.SnapshotsResponse, error)
	// AllSnapshots lists the caller's snapshots (an admin's: all).
	AllSnapshots(ctx context.Context, caller *warder.User) (*warder.SnapshotsResponse, error)
	DeleteSnapshot(ctx context.Context, caller *warder.User, id, sid string) error
	RestoreSnapshot(ctx context.Context, caller *warder.User, id, sid string) (*warder.Agent, error)
	ForkAgent(ctx context.Context, caller *warder.User, id string, req warder.ForkRequest) (*warder.Agent, error)
	// DeleteAgent deletes an agent as AgentService.DeleteAgentWith does,
	// and its snapshots unless opts.KeepSnapshots.
	DeleteAgent(ctx context.Context, caller *warder.User, id string, opts warder.DeleteOptions) error
}

// snapshotService is the server's, or ErrNotSupported.
func (s *Server) snapshotService() (SnapshotService, error) {
	if s.snapshots == nil {
		return nil, warder.Errorf(warder.ErrNotSupported, "snapshots are not offered by this server")
	}
	return s.snapshots, nil
}

func (s *Server) takeSnapshot(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	svc, err := s.snapshotService()
	if err != nil {
		return err
	}
	var req warder.SnapshotRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	snap, err := svc.TakeSnapshot(r.Context(), caller, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, snap)
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	svc, err := s.snapshotService()
	if err != nil {
		return err
	}
	list, err := svc.ListSnapshots(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list)
}

func (s *Server) allSnapshots(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	svc, err := s.snapshotService()
	if err != nil {
		return err
	}
	list, err := svc.AllSnapshots(r.Context(), caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list)
}

func (s *Server) deleteSnapshot(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	svc, err := s.snapshotService()
	if err != nil {
		return err
	}
	if err := svc.DeleteSnapshot(r.Context(), caller, r.PathValue("id"), r.PathValue("sid")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Snapshot deleted successfully"})
}

func (s *Server) restoreSnapshot(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	svc, err := s.snapshotService()
	if err != nil {
		return err
	}
	a, err := svc.RestoreSnapshot(r.Context(), caller, r.PathValue("id"), r.PathValue("sid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) forkAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	svc, err := s.snapshotService()
	if err != nil {
		return err
	}
	var req warder.ForkRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := svc.ForkAgent(r.Context(), caller, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a)
}
