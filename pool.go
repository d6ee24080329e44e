package warder

import "context"

// LabelPool marks a container a warm pool pre-started (WARDER_WARM_POOL);
// its value is the deployment's network, as LabelManaged's. A pooled
// container carries no agent's labels: until claimed it is nobody's, and
// once claimed its name (ContainerName) and the store's container id say
// whose it is, since labels cannot change on an existing container.
const LabelPool = "warder.pool"

// WarmPool is the optional part of a runtime that keeps workloads of the
// default agent image started ahead of need, so an agent's start is a
// hand-over instead of a create and a start (Info().WarmPool).
//
// Claim hands one to spec's agent: the agent's environment (secrets
// included) is given to the running process over a channel only Warder
// can use, its limits and restart policy are applied live, and its host
// port becomes the agent's. It returns the workload's id, which from then
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
	Claim(ctx context.Context, spec ContainerSpec) (id string, err error)
}
