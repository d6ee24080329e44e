package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// Setup makes sure cfg.Network and cfg.DefaultImage exist, creating the
// network and building the image when they do not. It is idempotent and
// single-flighted: concurrent calls in one process wait for each other.
func (r *Runtime) Setup(ctx context.Context) error {
	select {
	case r.setupSem <- struct{}{}:
		defer func() { <-r.setupSem }()
	case <-ctx.Done():
		return fmt.Errorf("waiting for another Setup: %w", ctx.Err())
	}
	if err := r.ensureNetworks(ctx); err != nil {
		return err
	}
	if err := r.SweepHelpers(ctx); err != nil {
		return err
	}
	if err := r.mountWorkspaces(ctx); err != nil {
		return err
	}
	if err := r.probeIsolation(ctx); err != nil {
		return err
	}
	return r.ensureImage(ctx)
}

// ensureNetworks makes sure the deployment's two networks exist once
// (on Docker; on Podman each agent has its own, see podmanNetworks).
// Processes sharing the store take turns (Config.Locks): on API 1.41 two
// that list no network at the same moment would each create one, and
// until a later Setup removed the newer, Docker refused both names as
// ambiguous to every container started meanwhile (CI saw it when two
// replicas started together).
func (r *Runtime) ensureNetworks(ctx context.Context) error {
	if r.cfg.Locks != nil {
		unlock, err := r.cfg.Locks.Lock(ctx, "setup-networks:"+r.cfg.Network)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if podman, err := r.isPodman(ctx); err != nil {
		return err
	} else if podman {
		return r.podmanNetworks(ctx) // a network per agent instead (agentnet.go)
	}
	if err := r.ensureNetwork(ctx, r.cfg.Network, false); err != nil {
		return err
	}
	if err := r.ensureNetwork(ctx, InternalNetwork(r.cfg.Network), true); err != nil {
		return err
	}
	return r.guardInternal(ctx) // internalguard.go
}

// InternalNetwork names the network of agents without egress: an internal
// bridge, from which nothing outside it can be reached.
func InternalNetwork(network string) string {
	if network == "" {
		return ""
	}
	return network + "_internal"
}

// ensureNetwork makes sure one network called name exists; internal makes
// it an internal network when it has to be created.
func (r *Runtime) ensureNetwork(ctx context.Context, name string, internal bool) error {
	if name == "" {
		return nil
	}
	nets, err := r.networks(ctx, name)
	if err != nil {
		return err
	}
	if len(nets) == 0 {
		if err := r.createNetwork(ctx, name, internal); err != nil {
			return err
		}
		if nets, err = r.networks(ctx, name); err != nil {
			return err
		}
		// Someone removed it between the create and the list (a test's
		// cleanup did, in CI); the next Setup makes it again.
		if len(nets) == 0 {
			return fmt.Errorf("network %s was removed as it was being created; retrying", name)
		}
	}
	if err := r.dedupeNetworks(ctx, nets); err != nil {
		return err
	}
	if !isolating(nets[0]) {
		if err := r.isolateNetwork(ctx, nets[0], internal); err != nil {
			return err
		}
		if nets, err = r.networks(ctx, name); err != nil || len(nets) == 0 {
			return err
		}
	}
	r.noteBridge(nets[0])
	return nil
}

// createNetwork makes one of the deployment's two networks on Docker.
func (r *Runtime) createNetwork(ctx context.Context, name string, internal bool) error {
	_, err := r.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver:   "bridge",
		Internal: internal,
		Options:  map[string]string{iccOption: "false"},
		Labels:   map[string]string{warder.LabelManaged: "true"},
	})
	// A conflict is a newer engine refusing a duplicate: someone made it first.
	if err != nil && !isConflict(err) {
		return mapErr(err, "create network "+name)
	}
	return nil
}

// dedupeNetworks keeps the oldest of nets and removes the other ones that
// Warder made. API 1.41 accepts duplicate names, so Warder processes
// running Setup at once can each create the network; Docker then refuses
// to use the name as ambiguous. Every Setup cleans up whatever duplicates
// it sees, so a pair that slipped past a race is gone by the next one.
func (r *Runtime) dedupeNetworks(ctx context.Context, nets []network.Summary) error {
	for _, n := range nets[min(1, len(nets)):] {
		if n.Labels[warder.LabelManaged] != "true" {
			return fmt.Errorf("network %q exists %d times, which makes it ambiguous to Docker; remove all but one", n.Name, len(nets))
		}
		_, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		if err != nil && !isNotFound(err) {
			return mapErr(err, "remove duplicate network "+n.ID)
		}
	}
	return nil
}

// NetworkCreated reports whether a network named exactly name exists and
// when the oldest of that name was made.
func (r *Runtime) NetworkCreated(ctx context.Context, name string) (created time.Time, found bool, err error) {
	nets, err := r.networks(ctx, name)
	if err != nil || len(nets) == 0 {
		return time.Time{}, false, err
	}
	return nets[0].Created, true, nil
}

// networks lists the networks named exactly name, oldest first. The
// engine's name filter matches substrings, hence the second check.
func (r *Runtime) networks(ctx context.Context, name string) ([]network.Summary, error) {
	res, err := r.cli.NetworkList(ctx, client.NetworkListOptions{
		Filters: client.Filters{}.Add("name", name),
	})
	if err != nil {
		return nil, mapErr(err, "list networks")
	}
	nets := slices.DeleteFunc(res.Items, func(n network.Summary) bool { return n.Name != name })
	slices.SortFunc(nets, func(a, b network.Summary) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return nets, nil
}

func (r *Runtime) ensureImage(ctx context.Context) error {
	ref := r.cfg.DefaultImage
	if ref == "" {
		return nil
	}
	_, err := r.cli.ImageInspect(ctx, ref)
	if err == nil || !isNotFound(err) {
		return mapErr(err, "inspect image "+ref)
	}
	if r.cfg.AgentBinary == nil {
		return fmt.Errorf("image %s is missing and no agent binary is configured to build it", ref)
	}
	// A first start spends minutes here (compiling warder-agent, then the
	// build): said as it goes, so a fresh clone's serve is not silent.
	start := time.Now()
	r.log.Info("the agent image is missing: building it", "image", ref)
	r.log.Info("getting the warder-agent binary (compiled from source when none is beside warder: a minute or more the first time)")
	bin, err := r.cfg.AgentBinary(ctx)
	if err != nil {
		return fmt.Errorf("agent binary for %s: %w", ref, err)
	}
	r.log.Info("building the agent image", "image", ref, "binary", bin)
	if err := r.BuildAgentImage(ctx, ref, bin); err != nil {
		return err
	}
	r.log.Info("agent image built", "image", ref, "took", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// RemoveNetwork removes every network named exactly name, for a
// deployment being taken down (tests, benchmarks). One that is
// already gone is success. One that a container is still attached to is
// an error naming the container. Endpoints left by containers that no
// longer exist are disconnected first, and a network the engine keeps
// refusing with nothing attached is ErrEndpointCountLeak.
func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	nets, err := r.networks(ctx, name)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if info, err := r.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{}); err == nil {
			r.unguard(ctx, info.Network)
		}
		if err := r.removeNetwork(ctx, n.ID, name); err != nil {
			return err
		}
	}
	return nil
}

// ErrEndpointCountLeak is the engine refusing to remove a network that
// has no endpoint left: its stored count of the network's endpoints
// missed a decrement while many containers on it were removed at once
// (seen with Docker 20.10; moby/moby#42119). Nothing through the API
// clears the count; a restart of the daemon does. Warder never removes
// its networks in service, so only tests and benchmarks, which make a
// network each, meet it.
var ErrEndpointCountLeak = errors.New("the engine counts endpoints on a network that has none (moby/moby#42119); only a restart of the daemon frees it")

// removeNetwork removes network id. Refused for active endpoints, it
// force-disconnects the endpoints of containers that are gone and tries
// again for a few seconds (the engine may still be releasing endpoints
// of containers removed a moment ago).
func (r *Runtime) removeNetwork(ctx context.Context, id, name string) error {
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		_, err := r.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		if err == nil || isNotFound(err) {
			return nil
		}
		if !activeEndpoints(err) {
			return mapErr(err, "remove network "+name)
		}
		attached, derr := r.dropStaleEndpoints(ctx, id)
		if derr != nil {
			return derr
		}
		if len(attached) > 0 {
			return warder.Errorf(warder.ErrConflict, "remove network %s: containers still attached: %s", name, strings.Join(attached, ", "))
		}
		if attempt == 5 {
			return fmt.Errorf("remove network %s: %w: %v", name, ErrEndpointCountLeak, err)
		}
		select {
		case <-ctx.Done():
			return mapErr(ctx.Err(), "remove network "+name)
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// activeEndpoints reports whether err is the engine refusing to remove a
// network because it counts endpoints on it.
func activeEndpoints(err error) bool {
	return err != nil && strings.Contains(err.Error(), "has active endpoints")
}

// dropStaleEndpoints force-disconnects, by endpoint name, every endpoint
// of network id whose container no longer exists, and returns the names
// of the containers that do exist and are attached.
func (r *Runtime) dropStaleEndpoints(ctx context.Context, id string) (attached []string, err error) {
	info, err := r.cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if isNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, mapErr(err, "inspect network "+id)
	}
	for key, ep := range info.Network.Containers {
		name := strings.TrimPrefix(ep.Name, "/")
		// An endpoint without a sandbox is listed as "ep-<endpoint id>".
		if !strings.HasPrefix(key, "ep-") {
			_, err := r.cli.ContainerInspect(ctx, key, client.ContainerInspectOptions{})
			if err == nil {
				attached = append(attached, name)
				continue
			} else if !isNotFound(err) {
				return nil, mapErr(err, "inspect container "+key)
			}
		}
		_, err := r.cli.NetworkDisconnect(ctx, id, client.NetworkDisconnectOptions{Container: name, Force: true})
		if err != nil && !isNotFound(err) {
			return nil, mapErr(err, "disconnect stale endpoint "+name+" from network "+id)
		}
		r.log.Warn("disconnected a stale endpoint", "network", id, "endpoint", name)
	}
	slices.Sort(attached)
	return attached, nil
}
