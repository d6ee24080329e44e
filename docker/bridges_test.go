package docker

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/testenv"
)

// TestProbeEndpoint: on the Docker host, a running agent's probes go to
// its own address on the agents' bridge (no docker-proxy between), and it
// answers there; everything else keeps its published port, and a stopped
// container has neither.
func TestProbeEndpoint(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	if !localEngine(r.cli.DaemonHost()) {
		testenv.SkipOrFail(t, "WARDER_REQUIRE_DOCKER", "the engine at %s is not on this machine: probes use the published port", r.cli.DaemonHost())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec, id := startTestContainer(t, r)
	st, err := r.Inspect(ctx, id)
	must(t, err)
	if !strings.HasPrefix(st.Endpoint, "127.0.0.1:") || st.HostPort == 0 {
		t.Fatalf("Endpoint = %q (host port %d), want the published port on loopback", st.Endpoint, st.HostPort)
	}
	host, port, err := net.SplitHostPort(st.ProbeEndpoint)
	if err != nil || port != "8000" {
		t.Fatalf("ProbeEndpoint = %q, want the container's address and port 8000 (%v)", st.ProbeEndpoint, err)
	}
	// The address is the container's on the agents' network.
	nets, err := r.networks(ctx, r.cfg.Network)
	must(t, err)
	ip, err := netip.ParseAddr(host)
	must(t, err)
	inSubnet := false
	for _, c := range nets[0].IPAM.Config {
		inSubnet = inSubnet || c.Subnet.Contains(ip)
	}
	if !inSubnet {
		t.Fatalf("ProbeEndpoint %s is outside network %s (%+v)", st.ProbeEndpoint, r.cfg.Network, nets[0].IPAM.Config)
	}
	if body := waitHealthyAt(t, st.ProbeEndpoint); !strings.Contains(body, `"agent_id":"`+spec.Name+`"`) {
		t.Fatalf("/health at %s = %s, want this agent's", st.ProbeEndpoint, body)
	}
	must(t, r.Stop(ctx, id, 10*time.Second))
	if st, err = r.Inspect(ctx, id); err != nil || st.Endpoint != "" || st.ProbeEndpoint != "" {
		t.Fatalf("stopped: Inspect = %+v, %v; want no endpoints", st, err)
	}
}
