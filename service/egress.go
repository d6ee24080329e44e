package service

import (
	"context"
	"net"
	"strconv"

	"github.com/warder/warder"
)

// EgressPolicy is the operator's say over agents' outbound access.
type EgressPolicy struct {
	// Default is the network of an agent that names none: "egress" or
	// "internal" (WARDER_DEFAULT_NETWORK).
	Default string
	// Forbid refuses "egress" to everyone (WARDER_ALLOW_EGRESS=false).
	Forbid bool
}

// applyNetwork fills the agent's network from the operator's default and
// refuses egress when the operator forbids it.
func (s *Service) applyNetwork(cc *warder.ContainerConfig) error {
	if cc.Network == "" {
		cc.Network = s.cfg.Egress.Default
		if cc.Network == "" {
			cc.Network = warder.NetworkEgress
		}
	}
	if cc.Network == warder.NetworkEgress && s.cfg.Egress.Forbid {
		return warder.Errorf(warder.ErrForbidden, `container_config.network "egress" is disabled by the operator (WARDER_ALLOW_EGRESS=false); use "internal"`)
	}
	return nil
}

// Endpoint is the address at which Warder reaches a running agent: its
// published host port, or, on the internal network, which publishes
// nothing, its container address (the Docker host can reach it).
func (s *Service) Endpoint(ctx context.Context, a *warder.Agent) (string, error) {
	if a.ContainerConfig.Network != warder.NetworkInternal {
		host := s.cfg.Spec.BindAddress
		if ip := net.ParseIP(host); host == "" || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		if a.HostPort == 0 {
			return "", warder.Errorf(warder.ErrConflict, "agent is not running")
		}
		return net.JoinHostPort(host, strconv.Itoa(a.HostPort)), nil
	}
	st, err := s.rt.Inspect(ctx, a.ContainerID)
	if err != nil {
		return "", gone(err)
	}
	if st.IP == "" {
		return "", warder.Errorf(warder.ErrConflict, "agent is not running")
	}
	port := a.ContainerConfig.Port
	if port == 0 {
		port = warder.DefaultContainerPort
	}
	return net.JoinHostPort(st.IP, strconv.Itoa(port)), nil
}
