package docker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// Start starts the container; starting a running one succeeds (the engine
// answers 304, which the client treats as success).
//
// An API 1.41 engine looks the network up only now, and answers 404 when it
// is gone. That is not a missing container: if the network is the one
// Setup owns, Start runs Setup and tries once more.
func (r *Runtime) Start(ctx context.Context, id string) (warder.WorkloadState, error) {
	if err := r.start(ctx, id); err != nil {
		return warder.WorkloadState{}, err
	}
	// The engine's start answers nothing; the address it gave the
	// container on its network (the health probes') is known only now.
	return r.Inspect(ctx, id)
}

// start is Start without the report of the state reached.
func (r *Runtime) start(ctx context.Context, id string) error {
	if err := r.reclaimPort(ctx, id); err != nil {
		return err
	}
	_, err := r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	if !isNotFound(err) {
		return mapErr(err, "start container "+id)
	}
	res, ierr := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if ierr != nil {
		return mapErr(ierr, "start container "+id) // the container is gone
	}
	if r.onOwnNetwork(res.Container) {
		if err := r.Setup(ctx); err != nil {
			return err
		}
		_, err = r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	}
	if isNotFound(err) {
		return fmt.Errorf("start container %s: %w", id, err) // not ErrNotFound: the container exists
	}
	if err != nil && !errors.Is(mapErr(err, ""), warder.ErrUnavailable) {
		// Most often its host port was taken since it was claimed: the
		// next create for the agent skips it.
		if st, ierr := r.Inspect(ctx, id); ierr == nil && st.HostPort != 0 && r.ports != nil {
			r.ports.MarkBad(st.HostPort)
		}
	}
	return mapErr(err, "start container "+id)
}

// onOwnNetwork reports whether c joins one of the networks Setup owns:
// Docker names it as the network mode, Podman (whose mode reads "bridge")
// among the container's networks.
func (r *Runtime) onOwnNetwork(c container.InspectResponse) bool {
	if r.cfg.Network == "" {
		return false
	}
	own := func(name string) bool { return name == r.cfg.Network || name == InternalNetwork(r.cfg.Network) }
	if c.HostConfig != nil && own(string(c.HostConfig.NetworkMode)) {
		return true
	}
	if c.NetworkSettings != nil {
		for name := range c.NetworkSettings.Networks {
			if own(name) {
				return true
			}
		}
	}
	return false
}

// Stop sends SIGTERM and, after timeout (rounded up to whole seconds, the
// API's unit; negative means the engine's default of 10 s), SIGKILL.
// Stopping a stopped container succeeds. ctx must outlive timeout, since
// the engine answers only once the container has exited.
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	var opts client.ContainerStopOptions
	if timeout >= 0 {
		secs := int(math.Ceil(timeout.Seconds()))
		opts.Timeout = &secs
	}
	_, err := r.cli.ContainerStop(ctx, id, opts)
	if err != nil && !isUnavailable(err) && !isNotFound(err) {
		// Podman refuses to stop a paused container ("container state
		// improper"; Docker stops it): thaw it, then stop it.
		if st, ierr := r.Inspect(ctx, id); ierr == nil && st.Phase == warder.PhasePaused {
			if _, uerr := r.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); uerr == nil {
				_, err = r.cli.ContainerStop(ctx, id, opts)
			}
		}
	}
	if err != nil {
		return mapErr(err, "stop container "+id)
	}
	// A stopped agent holds no host port: its container keeps the
	// binding, and Start claims that port again (reclaimPort).
	st, err := r.Inspect(ctx, id)
	if err == nil && r.ports != nil && st.AgentID != "" && st.HostPort != 0 {
		err = r.ports.Release(ctx, st.AgentID, st.HostPort)
	}
	if errors.Is(err, warder.ErrNotFound) {
		return nil
	}
	return err
}

// reclaimPort claims again, for the container's agent, the host port the
// container is published on, given up when it stopped. A port taken
// meanwhile is ErrConflict, and the container does not start: the
// caller makes a new one, on a new port.
func (r *Runtime) reclaimPort(ctx context.Context, id string) error {
	if r.ports == nil {
		return nil
	}
	st, err := r.Inspect(ctx, id)
	if err != nil || st.AgentID == "" || st.HostPort == 0 {
		return nil // ContainerStart says what is wrong
	}
	return r.ports.Reclaim(ctx, st.AgentID, st.HostPort)
}

// Remove force-removes the container and its anonymous volumes, and gives
// up the host port it was published on (if its agent still holds that
// one), and on Podman its network (dropAgentNetworks). A container that
// is already gone is success.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	st, err := r.Inspect(ctx, id)
	if errors.Is(err, warder.ErrNotFound) {
		r.dropAgentNetworks(ctx, id, true)
		return nil
	} else if err != nil {
		return err
	}
	if st.Phase == warder.PhasePaused {
		// A frozen process cannot take the kill of a forced remove under
		// gVisor ("PID … is zombie and can not be killed"), nor a stop
		// under Podman: thaw it first.
		if _, err := r.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil && !isNotFound(err) && !isConflict(err) {
			r.log.WarnContext(ctx, "thawing a paused container before removing it", "container", id, "err", err)
		}
	}
	if err := r.removeContainer(ctx, id); err != nil {
		return err
	}
	r.dropAgentNetworks(ctx, st.Name, false)
	if r.ports != nil && st.AgentID != "" && st.HostPort != 0 {
		return r.ports.Release(ctx, st.AgentID, st.HostPort)
	}
	return nil
}

// removeContainer force-removes by id or name; gone is success.
func (r *Runtime) removeContainer(ctx context.Context, idOrName string) error {
	_, err := r.cli.ContainerRemove(ctx, idOrName, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if isNotFound(err) {
		return nil
	}
	return mapErr(err, "remove container "+idOrName)
}

// Inspect reports the container's state; a missing container is
// ErrNotFound.
func (r *Runtime) Inspect(ctx context.Context, id string) (warder.WorkloadState, error) {
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return warder.WorkloadState{}, mapErr(err, "inspect container "+id)
	}
	return r.stateFrom(res.Container), nil
}
