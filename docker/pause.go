package docker

import (
	"context"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/warder/warder"
)

// Pause freezes the container's processes with the engine's pause (the
// cgroup freezer): their memory, the container's address and its
// published port stay. Pausing a paused container succeeds; one that
// does not run is ErrConflict.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, err := r.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	for try := 1; err != nil && strings.Contains(err.Error(), "unable to freeze") && try < freezeTries; try++ {
		// The freezer gives up on a process it cannot stop at once (one
		// in the kernel, waiting on I/O: fuse-overlayfs under load does
		// that) and thaws the rest; a moment later it goes through.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		}
		_, err = r.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	}
	if err == nil || isUnavailable(err) || isNotFound(err) {
		return mapErr(err, "pause container "+id)
	}
	return r.settled(ctx, id, warder.PhasePaused, "pause", err)
}

// freezeTries is how many times a pause the freezer refused is asked
// for (about 2 s in all).
const freezeTries = 8

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
