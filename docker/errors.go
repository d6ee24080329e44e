package docker

import (
	"context"
	"errors"
	"fmt"
	"net"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// mapErr is the one place that turns a Docker client error into Warder's
// error kinds; op says what was being done ("start container abc").
//
//   - no connection to the engine, or no answer before the deadline:
//     ErrUnavailable (503), whatever the call;
//   - the engine's 404 and 409: ErrNotFound and ErrConflict, with the
//     engine's message, which names only the caller's own objects;
//   - anything else is wrapped with op and stays an internal error.
//
// Callers that give a 404 or 409 a meaning of their own (not found on
// Remove is success) check cerrdefs before calling mapErr.
func mapErr(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case isUnavailable(err):
		return warder.Errorf(warder.ErrUnavailable, "Docker is unavailable: %v", err)
	case errors.Is(err, context.DeadlineExceeded):
		// The client returns the bare context error when the deadline
		// passes while dialing or waiting for the engine; either way the
		// engine did not answer in time.
		return warder.Errorf(warder.ErrUnavailable, "Docker is unavailable: no answer in time to %s", op)
	case isNotFound(err):
		return warder.Errorf(warder.ErrNotFound, "%s: %v", op, err)
	case isConflict(err):
		return warder.Errorf(warder.ErrConflict, "%s: %v", op, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// isUnavailable reports whether err means the engine could not be reached
// at all, as opposed to the engine refusing the request.
func isUnavailable(err error) bool {
	if client.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
