package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"

	"github.com/warder/warder"
)

// DefaultGVisorRuntimeClass is the RuntimeClass of agents of isolation
// gvisor when Config.GVisorRuntimeClass is "": the name gVisor's
// documentation gives it.
const DefaultGVisorRuntimeClass = "gvisor"

// isolationState is what Setup learnt of the cluster's RuntimeClasses.
type isolationState struct {
	gvisor atomic.Bool // the cluster has the gVisor RuntimeClass
}

// gvisorClass is the RuntimeClass that gives isolation gvisor.
func (r *Runtime) gvisorClass() string {
	if r.cfg.GVisorRuntimeClass != "" {
		return r.cfg.GVisorRuntimeClass
	}
	return DefaultGVisorRuntimeClass
}

// isolations are the levels agents may have: the operator's (runc
// alone when none is set), less gvisor while Setup has not found its
// RuntimeClass. The default stays, first, whatever is known: Setup fails
// while the cluster cannot give it.
func (r *Runtime) isolations() []warder.Isolation {
	return warder.OfferedIsolations(r.cfg.Isolations, r.iso.gvisor.Load())
}

// probeIsolation looks for the gVisor RuntimeClass (Setup). The class
// existing says the cluster's operator set gVisor up; whether a node's
// containerd has the handler it names shows only when a Pod of it starts
// (a Pod whose sandbox cannot be made stays pending, and Start says so).
// A default of gvisor without the class is an error.
func (r *Runtime) probeIsolation(ctx context.Context) error {
	if !slices.Contains(r.cfg.Isolations, warder.IsolationGVisor) {
		return nil
	}
	err := r.api.do(ctx, http.MethodGet, "/apis/node.k8s.io/v1/runtimeclasses/"+url.PathEscape(r.gvisorClass()), nil, nil)
	r.iso.gvisor.Store(err == nil)
	switch {
	case err == nil:
		return nil
	case r.cfg.Isolations[0] == warder.IsolationGVisor && errors.Is(err, warder.ErrNotFound):
		return fmt.Errorf("WARDER_AGENT_ISOLATION is gvisor but the cluster has no RuntimeClass %q (docs/security.md, Isolation levels)", r.gvisorClass())
	case r.cfg.Isolations[0] == warder.IsolationGVisor:
		return fmt.Errorf("runtime class %s: %w", r.gvisorClass(), err)
	}
	// Merely allowed (the default policy allows it): a cluster without
	// the class, or a role that may not read RuntimeClasses, offers runc.
	r.log.Info("agents cannot have isolation gvisor: no RuntimeClass found", "runtime_class", r.gvisorClass(), "err", err)
	return nil
}

// runtimeClassOf is the RuntimeClass of an agent of level l ("" is the
// deployment's default): none (the node's default handler) for runc. A
// level no longer offered (the operator's policy changed since the agent
// chose it) is ErrInvalid.
func (r *Runtime) runtimeClassOf(l warder.Isolation) (string, error) {
	l, err := warder.ResolveIsolation(string(l), r.isolations())
	if err != nil {
		return "", err
	}
	if l == warder.IsolationGVisor {
		return r.gvisorClass(), nil
	}
	return "", nil
}
