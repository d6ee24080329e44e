package docker

import (
	"context"
	"strings"
	"sync"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// inspectConcurrency bounds the inspections List runs at once: enough to
// resync hundreds of agents in well under a second, few enough not to
// crowd out the engine's other callers.
const inspectConcurrency = 8

// List reports every container that carries LabelManaged, running or not,
// but a warm pool's unclaimed ones, in the engine's order (newest first). The list endpoint lacks the exit
// code, OOM flag and restart count, so each container is inspected too; a
// container removed between the two calls is left out.
func (r *Runtime) List(ctx context.Context) ([]warder.WorkloadState, error) {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: client.Filters{}.Add("label", r.scopeLabel()),
	})
	if err != nil {
		return nil, mapErr(err, "list containers")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	states := make([]warder.WorkloadState, len(res.Items))
	found := make([]bool, len(res.Items))
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, inspectConcurrency)
	)
	for i, c := range res.Items {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			ir, err := r.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			switch {
			case err == nil:
				states[i], found[i] = r.stateFrom(ir.Container), true
			case isNotFound(err): // removed since the list
			default:
				once.Do(func() { firstErr = mapErr(err, "inspect container "+c.ID); cancel() })
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = mapErr(ctx.Err(), "list containers")
	}
	if firstErr != nil {
		return nil, firstErr
	}
	out := states[:0]
	for i, st := range states {
		// An unclaimed pool container is no agent's workload: the pool's.
		if found[i] && !(st.Pooled && st.AgentID == "") {
			out = append(out, st)
		}
	}
	return out, nil
}

// Running names this deployment's running containers (a paused one
// included, as Inspect counts it running) but a warm pool's unclaimed
// ones: one list call, no inspect.
func (r *Runtime) Running(ctx context.Context) ([]string, error) {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{
		Filters: client.Filters{}.Add("label", r.scopeLabel()),
	})
	if err != nil {
		return nil, mapErr(err, "list running containers")
	}
	out := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		if agent, pooled := agentOf(c.Labels, name); pooled && agent == "" {
			continue
		}
		out = append(out, c.ID)
	}
	return out, nil
}

// scopeLabel selects this deployment's containers: SpecFor labels them
// LabelManaged=<network>, so deployments sharing an engine stay apart.
func (r *Runtime) scopeLabel() string { return warder.LabelManaged + "=" + r.cfg.Network }
