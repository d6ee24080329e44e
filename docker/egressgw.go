package docker

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/warder/warder"
)

// InternalGateway is the address of the host on the deployment's
// internal network: the one address agents without a route out can
// reach, where Warder's egress proxy listens when Warder runs on the
// Docker host (docs/egress.md). On Podman every agent has a network of
// its own, so there is no one such address: ErrNotSupported.
func (r *Runtime) InternalGateway(ctx context.Context) (netip.Addr, error) {
	if podman, err := r.isPodman(ctx); err != nil {
		return netip.Addr{}, err
	} else if podman {
		return netip.Addr{}, warder.Errorf(warder.ErrNotSupported, "the egress proxy is not available on Podman, where each agent has a network of its own")
	}
	name := InternalNetwork(r.cfg.Network)
	nets, err := r.networks(ctx, name)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(nets) == 0 {
		return netip.Addr{}, warder.Errorf(warder.ErrUnavailable, "network %s does not exist yet", name)
	}
	for _, c := range nets[0].IPAM.Config {
		if c.Gateway.IsValid() && c.Gateway.Is4() {
			return c.Gateway, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s has no IPv4 gateway address", name)
}
