package service

import (
	"context"

	"github.com/warder/warder"
)

// EgressPolicy is the operator's say over agents' outbound access.
type EgressPolicy struct {
	// Default is the network of an agent that names none: "egress" or
	// "internal" (WARDER_DEFAULT_NETWORK).
	Default string
	// Forbid refuses "egress" to everyone (WARDER_ALLOW_EGRESS=false).
	Forbid bool
	// Lists is the operator's say over container_config.egress; nil
	// accepts only "none" and "all" (egresslist.go).
	Lists EgressLists
}

// applyNetwork fills the agent's network from the operator's default,
// refuses egress when the operator forbids it, and a restart policy the
// runtime cannot honour.
func (s *Agents) applyNetwork(cc *warder.ContainerConfig) error {
	if err := s.applyEgress(cc); err != nil { // egresslist.go
		return err
	}
	if cc.Network == "" {
		cc.Network = s.cfg.Egress.Default
		if cc.Network == "" {
			cc.Network = warder.NetworkEgress
		}
	}
	if cc.Network == warder.NetworkEgress && s.cfg.Egress.Forbid {
		return warder.Errorf(warder.ErrForbidden, `container_config.network "egress" is disabled by the operator (WARDER_ALLOW_EGRESS=false); use "internal"`)
	}
	// A capability the runtime lacks is refused here, at the request,
	// rather than failing at the first start.
	if info := s.rt.Info(); !info.RestartPolicies && cc.RestartPolicy != "" && cc.RestartPolicy != string(warder.RestartNever) {
		return warder.Errorf(warder.ErrInvalid, "container_config.restart_policy %q: the %s runtime has no restart policies; use \"no\"", cc.RestartPolicy, info.Name)
	}
	return s.checkIsolation(cc) // isolation.go
}

// Endpoint is the address at which Warder reaches a running agent, as
// its runtime reported it when it last saw the container (kept until the
// container's next change), else as it reports it now.
func (s *core) Endpoint(ctx context.Context, a *warder.Agent) (string, error) {
	if r, ok := s.work.endpoint(a.ContainerID); ok {
		return r.endpoint, nil
	}
	st, err := s.rt.Inspect(ctx, a.ContainerID)
	if err != nil {
		return "", gone(err)
	}
	switch {
	case st.Endpoint != "":
		s.work.remember(&st)
		return st.Endpoint, nil
	case st.Phase == warder.PhaseExited || st.Restarting():
		// Recorded as running, but it has just ended: its exit is on its
		// way through the event stream.
		return "", warder.Errorf(warder.ErrBadGateway, "the agent's container exited with code %d; see its logs", st.ExitCode)
	}
	return "", warder.Errorf(warder.ErrConflict, "agent is not running")
}
