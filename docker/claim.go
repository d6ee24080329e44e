package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

var _ warder.WarmPool = (*Runtime)(nil)

// Claim hands a running pool container to spec's agent (warder.WarmPool):
// renamed to the agent's container name (claims take turns: takeOne), its
// volume made the agent's workspace, its host
// port the agent's, its limits and restart policy the agent's (a live
// update), and the agent's environment written to its stdin. A spec the
// pool cannot serve, or an empty pool, is ErrNotFound.
func (r *Runtime) Claim(ctx context.Context, spec warder.WorkloadSpec) (warder.WorkloadState, error) {
	if reason := r.unfit(ctx, spec); reason != "" {
		return warder.WorkloadState{}, warder.Errorf(warder.ErrNotFound, "no warm container: %s", reason)
	}
	if spec.Workspace != nil {
		// A mount cannot be added to a running container: only an agent
		// with no workspace yet (a first start) can take the pool's.
		_, err := r.cli.VolumeInspect(ctx, spec.Workspace.Name, client.VolumeInspectOptions{})
		if err == nil {
			return warder.WorkloadState{}, warder.Errorf(warder.ErrNotFound, "no warm container: the agent's workspace already exists")
		} else if !isNotFound(err) {
			return warder.WorkloadState{}, mapErr(err, "inspect volume "+spec.Workspace.Name)
		}
	}
	defer r.pool.refillSoon()
	c, err := r.takeOne(ctx, spec)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	if err := r.handOver(ctx, c, spec); err != nil {
		// Nothing half-claimed stays: the caller starts the agent cold.
		r.discardClaimed(ctx, c)
		return warder.WorkloadState{}, err
	}
	return r.Inspect(ctx, c.ID)
}

// takeOne renames a running pool container, of spec's shape if there is
// one, to the agent's name, and points the agent's workspace at its
// volume. The engine's rename is no claim on its own: two renames of one
// container both succeed, one after the other, whatever name each
// expected it to have. So picking and renaming take turns, in this
// process (a mutex) and among processes sharing the store (its lock).
// None to take is ErrNotFound.
func (r *Runtime) takeOne(ctx context.Context, spec warder.WorkloadSpec) (container.Summary, error) {
	unlock, err := r.lockPool(ctx)
	if err != nil {
		return container.Summary{}, err
	}
	defer unlock()
	members, err := r.poolMembers(ctx, false)
	if err != nil {
		return container.Summary{}, err
	}
	// One of the agent's own shape first: it needs no live update.
	key := warder.ShapeKey(spec.MemoryBytes, spec.MilliCPUs)
	slices.SortStableFunc(members, func(x, y container.Summary) int {
		return cmp.Compare(boolInt(x.Labels[warder.LabelPoolShape] != key), boolInt(y.Labels[warder.LabelPoolShape] != key))
	})
	for _, c := range members {
		if !unclaimed(c) {
			continue
		}
		taken, err := r.takeWithWorkspace(ctx, c, spec)
		if err != nil {
			if taken {
				r.discardClaimed(ctx, c)
			}
			return container.Summary{}, err
		}
		if taken {
			return c, nil
		}
		// Gone since the list (died, removed by a refill).
	}
	return container.Summary{}, warder.Errorf(warder.ErrNotFound, "no warm container: the pool is empty")
}

// discardClaimed removes a container this process renamed but could not
// hand over.
func (r *Runtime) discardClaimed(ctx context.Context, c container.Summary) {
	if err := r.Remove(context.WithoutCancel(ctx), c.ID); err != nil {
		r.log.Error("warm pool: removing a container whose claim failed", "container", c.ID, "err", err)
	}
	r.ports.Drop(hostPortOf(c))
}

// lockPool makes claims take turns (see takeOne).
func (r *Runtime) lockPool(ctx context.Context) (func(), error) {
	r.pool.mu.Lock()
	if r.cfg.Locks == nil {
		return r.pool.mu.Unlock, nil
	}
	shared, err := r.cfg.Locks.Lock(ctx, "warm-pool:"+r.cfg.Network)
	if err != nil {
		r.pool.mu.Unlock()
		return nil, err
	}
	return func() { shared(); r.pool.mu.Unlock() }, nil
}

// unfit says why spec cannot have a pool container, "" when it can: the
// pool runs the default image on its default port, published on the
// egress network, as the image's own user.
func (r *Runtime) unfit(ctx context.Context, spec warder.WorkloadSpec) string {
	switch {
	case r.pool == nil:
		return "no warm pool"
	case spec.Image != r.cfg.DefaultImage:
		return "only the default image is pooled"
	case spec.Port != warder.DefaultContainerPort:
		return "the agent listens on another port"
	case spec.Internal || !spec.Publish:
		return "internal agents are not pooled"
	case spec.AllowRoot:
		return "agents allowed to run as root are not pooled"
	case spec.Workspace != nil && spec.Workspace.MountPath != warder.WorkspaceMountPath:
		return "the workspace is mounted elsewhere"
	case spec.Isolation != "" && spec.Isolation != r.isolations()[0]:
		return "only agents of the default isolation level are pooled"
	case r.sandboxedPoolUnfit(spec) != "": // gvisor.go
		return r.sandboxedPoolUnfit(spec)
	}
	if podman, err := r.isPodman(ctx); err != nil || podman {
		return "no warm pool on this engine"
	}
	return ""
}

// take renames pool container from to the agent's name. false: another
// claim renamed it first. A leftover holding the agent's name (a create
// or claim interrupted before its id was saved) is removed first.
func (r *Runtime) take(ctx context.Context, from, to string) (bool, error) {
	_, err := r.cli.ContainerRename(ctx, from, client.ContainerRenameOptions{NewName: to})
	if isConflict(err) {
		if err := r.removeContainer(ctx, to); err != nil {
			return false, err
		}
		_, err = r.cli.ContainerRename(ctx, from, client.ContainerRenameOptions{NewName: to})
	}
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, mapErr(err, "rename pool container "+from)
}

// takeWithWorkspace renames c to spec's agent's name (take) and, at the
// same time, points the agent's workspace name at c's volume: both are
// slow writes of the engine's, and the workspace is the agent's alone
// (it did not exist, and the agent's lock is held). A lost race undoes
// the pointer; an error after a won race is the caller's to clean up.
func (r *Runtime) takeWithWorkspace(ctx context.Context, c container.Summary, spec warder.WorkloadSpec) (bool, error) {
	if spec.Workspace == nil {
		return r.take(ctx, strings.TrimPrefix(c.Names[0], "/"), spec.Name)
	}
	volume := poolVolumeOf(c)
	if volume == "" {
		return false, fmt.Errorf("pool container %s has no volume", c.ID)
	}
	aliased := make(chan error, 1)
	go func() { aliased <- r.aliasWorkspace(ctx, spec.Workspace, volume) }()
	taken, err := r.take(ctx, strings.TrimPrefix(c.Names[0], "/"), spec.Name)
	aerr := <-aliased
	if !taken && aerr == nil {
		if rerr := r.removeVolume(context.WithoutCancel(ctx), spec.Workspace.Name); rerr != nil {
			return false, errors.Join(err, rerr)
		}
	}
	if taken && aerr != nil {
		return true, aerr
	}
	return taken, err
}

// handOver makes the renamed container c spec's agent's. Its steps are
// independent of one another and run at once; it returns when all are
// done, so the claim's caller sees the agent with its limits, port and
// workspace.
func (r *Runtime) handOver(ctx context.Context, c container.Summary, spec warder.WorkloadSpec) error {
	port := hostPortOf(c)
	if port == 0 {
		return fmt.Errorf("pool container %s publishes no port", c.ID)
	}
	rp, err := restartPolicy(spec.Restart)
	if err != nil {
		return err
	}
	steps := []func() error{
		func() error { return r.ports.Adopt(ctx, spec.AgentID, port) },
		func() error { return r.configure(ctx, c.ID, spec.AgentID, spec.Env) },
	}
	if c.Labels[warder.LabelPoolShape] != warder.ShapeKey(spec.MemoryBytes, spec.MilliCPUs) ||
		rp.Name != container.RestartPolicyDisabled || spec.PidsLimit != warder.PidsLimit {
		// The engine runs runc for this: tens of milliseconds, more
		// under load, which a claim of the pool's own shape skips.
		steps = append(steps, func() error {
			pids := spec.PidsLimit
			res := containerResources(spec, &pids)
			_, err := r.cli.ContainerUpdate(ctx, c.ID, client.ContainerUpdateOptions{Resources: &res, RestartPolicy: &rp})
			return mapErr(err, "update claimed container "+c.ID)
		})
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// containerResources are spec's limits as a live update sets them, the
// same as a create does (convert.go).
func containerResources(spec warder.WorkloadSpec, pids *int64) container.Resources {
	return container.Resources{Memory: spec.MemoryBytes, MemorySwap: spec.MemoryBytes, NanoCPUs: spec.MilliCPUs * 1_000_000, PidsLimit: pids}
}
