package docker

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// The warm pool (Config.WarmPool, WARDER_WARM_POOL): started containers
// of the default image, on the egress network with a host port
// published, running warder-agent in its pooled mode (it binds its port
// and waits for its agent on stdin). Claim (claim.go) hands one to an
// agent; KeepPool keeps their number at the operator's size. They are
// nobody's: no agent's labels, no quota, no port in the store until a
// claim; they carry LabelManaged (so the event stream and List see them
// once claimed) and LabelPool.
const (
	// PoolPrefix starts an unclaimed pool container's name; a claim
	// renames it to its agent's ContainerName.
	PoolPrefix = "warder-pool-"
	// poolVolumePrefix starts a pool container's own volume's name: the
	// workspace its agent gets (see workspaceAlias).
	poolVolumePrefix = "warder-pool-ws-"
	// refillEvery is how often KeepPool looks at the pool when nothing
	// told it to: it notices a pool container that died within this.
	refillEvery = 2 * time.Second
	// pendingFor is how long a pool container may stay made but not
	// running before it counts as an interrupted refill and is removed.
	pendingFor = time.Minute
)

// pool is the runtime's warm pool settings and its refill signal.
type pool struct {
	shapes []warder.PoolShape
	kick   chan struct{} // one pending refill, buffered
	mu     sync.Mutex    // claims take turns (takeOne)
}

func newPool(shapes []warder.PoolShape) *pool {
	return &pool{shapes: shapes, kick: make(chan struct{}, 1)}
}

// refillSoon asks KeepPool to look now (after a claim).
func (p *pool) refillSoon() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// KeepPool keeps the warm pool at its size until ctx ends: it replaces
// pool containers that died, removes ones left half-made, and starts new
// ones, right after each claim and every refillEvery. One process does it
// for all (Warder runs it while it leads); claims work from any process.
// Without a pool it returns at once.
func (r *Runtime) KeepPool(ctx context.Context) {
	if r.pool == nil {
		return
	}
	t := time.NewTicker(refillEvery)
	defer t.Stop()
	for {
		// An engine that is down is reported by Warder's readiness and
		// event stream; the refill just tries again.
		if err := r.refill(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, warder.ErrUnavailable) {
			r.log.Warn("warm pool: refill failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.pool.kick:
		}
	}
}

// refill brings the pool to its size once.
func (r *Runtime) refill(ctx context.Context) error {
	if podman, err := r.isPodman(ctx); err != nil || podman {
		return err // no pool on Podman (Info says so)
	}
	members, err := r.poolMembers(ctx, true)
	if err != nil {
		return err
	}
	live := map[string]int{}
	want := map[string]bool{}
	for _, sh := range r.pool.shapes {
		want[sh.Key()] = true
	}
	var held []int
	for _, c := range members {
		if unclaimed(c) {
			held = append(held, hostPortOf(c))
		}
	}
	r.ports.Hold(held)
	for _, c := range members {
		if !unclaimed(c) {
			continue // an agent's now
		}
		age := time.Since(time.Unix(c.Created, 0))
		shape := c.Labels[warder.LabelPoolShape]
		if want[shape] && (c.State == container.StateRunning || (c.State == container.StateCreated && age < pendingFor)) {
			live[shape]++
			continue
		}
		// Died (an unclaimed agent exits only when killed or its stdin
		// closed), made and never started, or of a shape no longer
		// wanted: replace it.
		r.discardPooled(ctx, c.ID, poolVolumeOf(c), hostPortOf(c))
	}
	for _, sh := range r.pool.shapes {
		for n := live[sh.Key()]; n < sh.Size; n++ {
			if err := r.addPooled(ctx, sh); err != nil {
				return err
			}
		}
	}
	return r.sweepPoolVolumes(ctx)
}

// poolMembers lists this deployment's pool containers, claimed ones
// included; all adds those not running.
func (r *Runtime) poolMembers(ctx context.Context, all bool) ([]container.Summary, error) {
	f := client.Filters{}.Add("label", warder.LabelPool+"="+r.cfg.Network)
	if !all {
		f = f.Add("status", "running")
	}
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: all, Filters: f})
	if err != nil {
		return nil, mapErr(err, "list pool containers")
	}
	return res.Items, nil
}

// unclaimed reports whether c still waits for a claim: its name is the
// pool's, not an agent's.
func unclaimed(c container.Summary) bool {
	for _, n := range c.Names {
		if strings.HasPrefix(strings.TrimPrefix(n, "/"), PoolPrefix) {
			return true
		}
	}
	return false
}

func poolVolumeOf(c container.Summary) string {
	for _, m := range c.Mounts {
		if strings.HasPrefix(m.Name, poolVolumePrefix) {
			return m.Name
		}
	}
	return ""
}

func hostPortOf(c container.Summary) int {
	for _, p := range c.Ports {
		if p.PublicPort != 0 {
			return int(p.PublicPort)
		}
	}
	return 0
}

// poolSpec is what a pool container is made from: the default image in
// its pooled mode, the shape's limits, published on the egress network,
// with a fresh volume of its own at the workspace's path.
func (r *Runtime) poolSpec(suffix string, shape warder.PoolShape) warder.WorkloadSpec {
	return warder.WorkloadSpec{
		Name:  PoolPrefix + suffix,
		Image: r.cfg.DefaultImage,
		Env:   map[string]string{"PORT": "8000", poolModeEnv: "1"},
		Labels: map[string]string{
			warder.LabelManaged:   r.cfg.Network,
			warder.LabelPool:      r.cfg.Network,
			warder.LabelPoolShape: shape.Key(),
		},
		MemoryBytes: shape.MemoryBytes,
		MilliCPUs:   shape.MilliCPUs,
		PidsLimit:   warder.PidsLimit,
		Port:        warder.DefaultContainerPort,
		Publish:     true,
		Workspace: &warder.WorkspaceSpec{Name: poolVolumePrefix + suffix, MountPath: warder.WorkspaceMountPath,
			Labels: map[string]string{warder.LabelPool: r.cfg.Network}},
	}
}

// poolModeEnv is warder-agent's pooled mode (cmd/warder-agent/pooled.go).
const poolModeEnv = "WARDER_AGENT_POOLED"

// addPooled makes, prepares and starts one pool container. Whatever fails
// half-way is removed; what a kill leaves, the next refill removes.
func (r *Runtime) addPooled(ctx context.Context, shape warder.PoolShape) (err error) {
	spec := r.poolSpec(randomHex(8), shape)
	port, err := r.ports.Pick(ctx)
	if err != nil {
		return err
	}
	id := ""
	defer func() {
		if err != nil {
			r.discardPooled(context.WithoutCancel(ctx), cmp.Or(id, spec.Name), spec.Workspace.Name, port)
		}
	}()
	made, err := r.ensureVolume(ctx, spec.Workspace)
	if err != nil {
		return err
	}
	p := placement{Network: r.cfg.Network, HostIP: r.cfg.BindAddress, HostPort: port, Stdin: true, FreshWorkspace: made}
	ready := false
	if id, ready, err = r.createPlaced(ctx, spec, p); err != nil {
		return err
	}
	if !ready {
		if err = r.ownWorkspace(ctx, id, spec.Workspace); err != nil {
			return err
		}
	}
	if _, err = r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		r.ports.MarkBad(port) // most often: something took the port meanwhile
		return mapErr(err, "start pool container "+spec.Name)
	}
	return nil
}

// discardPooled removes an unclaimed pool container, its port set-aside
// and its volume (unless a claim made it an agent's workspace: a kill
// between the alias and the rename).
func (r *Runtime) discardPooled(ctx context.Context, idOrName, volume string, port int) {
	if err := r.removeContainer(ctx, idOrName); err != nil {
		r.log.Error("warm pool: removing a pool container", "container", idOrName, "err", err)
		return
	}
	if port != 0 && r.ports != nil {
		r.ports.Drop(port)
	}
	if volume != "" {
		if err := r.removePoolVolume(ctx, volume); err != nil && !errors.Is(err, warder.ErrConflict) {
			r.log.Error("warm pool: removing a pool volume", "volume", volume, "err", err)
		}
	}
}

// RemovePool removes every unclaimed pool container of this deployment
// and its volume, by id and exact name: for a deployment being taken
// down (a test's). Claimed ones are agents', removed with them.
func (r *Runtime) RemovePool(ctx context.Context) error {
	members, err := r.poolMembers(ctx, true)
	if err != nil {
		return err
	}
	for _, c := range members {
		if unclaimed(c) {
			r.discardPooled(ctx, c.ID, poolVolumeOf(c), hostPortOf(c))
		}
	}
	return r.sweepPoolVolumes(ctx)
}
