package docker

import (
	"context"

	"github.com/moby/moby/client"

	"github.com/warder/warder"
)

// Pause freezes the container's processes with the engine's pause (the
// cgroup freezer): their memory, the container's address and its
// published port stay. Pausing a paused container succeeds; one that
// does not run is ErrConflict.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, err := r.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	if err == nil || isUnavailable(err) || isNotFound(err) {
		return mapErr(err, "pause container "+id)
	}
	return r.settled(ctx, id, warder.PhasePaused, "pause", err)
}

// Resume thaws a paused container. Resuming a running one succeeds; one
// that does not run is ErrConflict.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	_, err := r.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	if err == nil || isUnavailable(err) || isNotFound(err) {
		return mapErr(err, "resume container "+id)
	}
	return r.settled(ctx, id, warder.PhaseRunning, "resume", err)
}

// settled answers a pause or resume the engine refused (Docker says
// "is already paused" or "is not paused", with a status that varies
// with the engine and its runtime): success when the container is
// already where it was asked to go, else ErrConflict.
func (r *Runtime) settled(ctx context.Context, id string, want warder.Phase, op string, refused error) error {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return err
	}
	if st.Phase == want {
		return nil
	}
	return warder.Errorf(warder.ErrConflict, "cannot %s the container: it is %s (%v)", op, st.Phase, refused)
}
