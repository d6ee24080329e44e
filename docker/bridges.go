package docker

import (
	"net"
	"net/netip"
	"net/url"

	"github.com/moby/moby/api/types/network"
)

// onHost reports whether Setup found network's bridge among this host's
// interfaces, so that Warder reaches its containers at their own
// addresses (WorkloadState.ProbeEndpoint).
func (r *Runtime) onHost(network string) bool {
	_, ok := r.bridges.Load(network)
	return ok
}

// noteBridge records whether this host is on n's bridge: the engine runs
// on this machine (a unix socket, or TCP to loopback) and n's gateway is
// one of this host's addresses. Warder in a container of its own, or
// speaking to a remote engine, has no such address and keeps to the
// published ports.
func (r *Runtime) noteBridge(n network.Summary) {
	r.bridges.Delete(n.Name)
	if !localEngine(r.cli.DaemonHost()) {
		return
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return
	}
	for _, c := range n.IPAM.Config {
		if c.Gateway.IsValid() && hasAddr(addrs, c.Gateway) {
			r.bridges.Store(n.Name, true)
			return
		}
	}
}

// localEngine reports whether a DOCKER_HOST-style address is on this
// machine.
func localEngine(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "unix":
		return true
	case "tcp", "http", "https":
		ip, err := netip.ParseAddr(u.Hostname())
		return (err == nil && ip.IsLoopback()) || u.Hostname() == "localhost"
	}
	return false
}

// hasAddr reports whether ip is one of addrs (an interface's addresses).
func hasAddr(addrs []net.Addr, ip netip.Addr) bool {
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == ip.Unmap() {
				return true
			}
		}
	}
	return false
}
