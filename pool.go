package warder

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LabelPool marks a container a warm pool pre-started (WARDER_WARM_POOL);
// its value is the deployment's network, as LabelManaged's. A pooled
// container carries no agent's labels: until claimed it is nobody's, and
// once claimed its name (ContainerName) and the store's container id say
// whose it is, since labels cannot change on an existing container.
const LabelPool = "warder.pool"

// WarmPool is the optional part of a runtime that keeps workloads of the
// default agent image started ahead of need, so an agent's start is a
// hand-over instead of a create and a start (Parts().WarmPool).
//
// Claim hands one to spec's agent: the agent's environment (secrets
// included) is given to the running process over a channel only Warder
// can use, its limits and restart policy are applied live, and its host
// port becomes the agent's. It returns the workload's state (its id, which from then
// on is the agent's as if Create had made it; the caller records it. When
// no workload fits spec (another image or port, no egress, a workspace
// that already exists) or none is ready, it returns an error wrapping
// ErrNotFound and the caller creates one as usual. Any other error leaves
// nothing claimed: the caller may still create one.
//
// A workload claimed by a process that died before recording its id is
// reported by List and Inspect with Pooled set, and is then a stray:
// never adopted by name, only by the id the store holds.
type WarmPool interface {
	Claim(ctx context.Context, spec WorkloadSpec) (WorkloadState, error)
	// KeepPool keeps the pool at its size until ctx ends, replacing
	// claimed and broken workloads; one process of a deployment runs it
	// (the leader).
	KeepPool(ctx context.Context)
}

// LabelPoolShape, on a warm pool's container, is its limits as
// "<memory bytes>/<thousandths of a CPU>": an agent of the same shape
// takes it as it is, any other after a live update of its limits.
const LabelPoolShape = "warder.pool.shape"

// PoolShape is one kind of warm pool container the operator keeps Size
// of (WARDER_WARM_POOL): limits an agent may ask for, so that claiming
// one needs no live update of them.
type PoolShape struct {
	MemoryBytes int64
	MilliCPUs   int64
	Size        int
}

// Key is the shape's LabelPoolShape value.
func (p PoolShape) Key() string { return ShapeKey(p.MemoryBytes, p.MilliCPUs) }

// ShapeKey is the LabelPoolShape value of the given limits.
func ShapeKey(memoryBytes, milliCPUs int64) string {
	return strconv.FormatInt(memoryBytes, 10) + "/" + strconv.FormatInt(milliCPUs, 10)
}

// ParsePoolShapes reads WARDER_WARM_POOL: "" or "0" is no pool; a number
// N is N containers of the default limits (DefaultMemoryLimit,
// DefaultCPULimit); a comma-separated list of N or MEMORY/CPUS=N (as
// "32m/0.25=4") adds shapes. The sizes together are at most max.
func ParsePoolShapes(s string, max int) ([]PoolShape, error) {
	var out []PoolShape
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		shape, n, hasShape := strings.Cut(part, "=")
		if !hasShape {
			shape, n = DefaultMemoryLimit+"/"+strconv.FormatFloat(DefaultCPULimit, 'f', -1, 64), part
		}
		size, err := strconv.Atoi(n)
		if err != nil || size < 0 {
			return nil, Errorf(ErrInvalid, "WARDER_WARM_POOL: %q: the size must be a whole number, 0 or more", part)
		}
		mem, cpus, ok := strings.Cut(shape, "/")
		if !ok {
			return nil, Errorf(ErrInvalid, "WARDER_WARM_POOL: %q must be N or MEMORY/CPUS=N, as 32m/0.25=4", part)
		}
		cc := ContainerConfig{MemoryLimit: mem}
		if cc.CPULimit, err = strconv.ParseFloat(cpus, 64); err != nil {
			return nil, Errorf(ErrInvalid, "WARDER_WARM_POOL: %q: %q is not a number of CPUs", part, cpus)
		}
		if err := NormalizeConfig(&cc, "x"); err != nil {
			return nil, Errorf(ErrInvalid, "WARDER_WARM_POOL: %q: %s", part, ErrorMessage(err))
		}
		bytes, _ := ParseMemory(cc.MemoryLimit)
		total += size
		ps := PoolShape{MemoryBytes: bytes, MilliCPUs: int64(math.Round(cc.CPULimit * 1000)), Size: size}
		if i := slices.IndexFunc(out, func(o PoolShape) bool { return o.Key() == ps.Key() }); i >= 0 {
			out[i].Size += size
		} else if size > 0 {
			out = append(out, ps)
		}
	}
	if total > max {
		return nil, Errorf(ErrInvalid, "WARDER_WARM_POOL: %d containers in all; at most %d", total, max)
	}
	return out, nil
}
