package docker

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// podmanNetworkOf returns the Podman record of the one network that
// container id is on, failing unless it is exactly one.
func podmanNetworkOf(t *testing.T, r *Runtime, id string) (string, podmanNetworkRecord) {
	t.Helper()
	ctx := context.Background()
	c, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	must(t, err)
	var names []string
	for name := range c.Container.NetworkSettings.Networks {
		names = append(names, name)
	}
	if len(names) != 1 {
		t.Fatalf("container %s is on networks %v, want one", id, names)
	}
	var n podmanNetworkRecord
	status, msg, err := r.podmanCall(ctx, "GET", podmanAPI+"/networks/"+names[0]+"/json", nil, &n)
	if err != nil || status != 200 {
		t.Fatalf("inspect network %s: %d %s %v", names[0], status, msg, err)
	}
	return names[0], n
}

// podmanNetworkRecord is what the tests read of Podman's network record.
type podmanNetworkRecord struct {
	podmanNetwork
	Internal  bool              `json:"internal"`
	Interface string            `json:"network_interface"`
	Options   map[string]string `json:"options"`
	Labels    map[string]string `json:"labels"`
}

// TestPodmanAgentNetworks: on Podman each agent's container is alone on
// an isolated network of its own, without DNS, internal for an internal
// agent; Remove takes the network with the container, also when the
// container was removed behind Warder's back; Setup sweeps networks
// whose containers are gone, and moves agents off the shared networks
// of an older Warder.
func TestPodmanAgentNetworks(t *testing.T) {
	r := newPodmanRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must(t, r.Setup(ctx))
	for _, shared := range []string{r.cfg.Network, InternalNetwork(r.cfg.Network)} {
		if nets, err := r.networks(ctx, shared); err != nil || len(nets) != 0 {
			t.Errorf("Setup on Podman made the shared network %s: %v, %v", shared, nets, err)
		}
	}

	egress, internal := testSpec(t, r), testSpec(t, r)
	internal.Internal, internal.Publish = true, false
	for _, spec := range []warder.WorkloadSpec{egress, internal} {
		id, err := r.Create(ctx, spec)
		must(t, err)
		name, n := podmanNetworkOf(t, r, id)
		if want := agentNetwork(r.cfg.Network, spec.Name, spec.Internal); name != want {
			t.Errorf("container on %s, want %s", name, want)
		}
		if n.Interface != agentBridge(name) {
			t.Errorf("network %s has bridge %q, want %q (under Warder's rule)", name, n.Interface, agentBridge(name))
		}
		if n.Options["isolate"] != "true" || n.DNSEnabled || n.Internal != spec.Internal || n.Labels[LabelAgentNetwork] != r.cfg.Network {
			t.Errorf("network %s: %+v; want isolate=true, no DNS, internal %v, labelled", name, n, spec.Internal)
		}
		if spec.Internal && (len(n.Subnets) != 1 || n.Subnets[0].Gateway == "") {
			t.Errorf("internal network %s has no gateway, so the host cannot reach its agent: %+v", name, n.Subnets)
		}
		// Made again for the next container: one that exists is success.
		if again, err := r.ensureAgentNetwork(ctx, spec.Name, spec.Internal); err != nil || again != name {
			t.Errorf("ensureAgentNetwork again = %s, %v", again, err)
		}
		must(t, r.Remove(ctx, spec.Name))
		if nets, err := r.networks(ctx, name); err != nil || len(nets) != 0 {
			t.Errorf("network %s after Remove: %v, %v", name, nets, err)
		}
	}

	// Removed behind Warder's back: Remove by id finds no container and
	// sweeps the orphan (once it is past its grace); so does Setup.
	id, err := r.Create(ctx, egress)
	must(t, err)
	name := agentNetwork(r.cfg.Network, egress.Name, false)
	must(t, r.removeContainer(ctx, id))
	must(t, r.sweepAgentNetworks(ctx, time.Hour))
	checkNetworks(t, r, name, 1) // too young to be an orphan
	must(t, r.sweepAgentNetworks(ctx, 0))
	checkNetworks(t, r, name, 0)
}

// checkNetworks fails unless want networks are named exactly name.
func checkNetworks(t *testing.T, r *Runtime, name string, want int) {
	t.Helper()
	nets, err := r.networks(context.Background(), name)
	must(t, err)
	if len(nets) != want {
		t.Errorf("%d networks named %s, want %d", len(nets), name, want)
	}
}

// TestPodmanSharedNetworkRetired: an agent on the shared network an
// older Warder made on Podman (where agents on it reach each other) is
// moved by Setup onto a network of its own, still answering at its
// published port, and the shared network is removed.
func TestPodmanSharedNetworkRetired(t *testing.T) {
	r := newPodmanRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The network and container as the older Warder made them.
	shared := r.cfg.Network
	must(t, r.podmanCreateNetwork(ctx, shared, false, map[string]any{"labels": map[string]string{warder.LabelManaged: "true"}}))
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		must(t, r.RemoveNetwork(ctx, shared))
	})
	spec := testSpec(t, r)
	port, err := r.ports.Claim(ctx, spec.AgentID)
	must(t, err)
	req, err := containerConfig(spec, placement{Network: shared, HostIP: r.cfg.BindAddress, HostPort: port, Ulimits: podmanUlimits(), ScratchDirs: podmanScratchDirs})
	must(t, err)
	res, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: spec.Name, Config: req.Config, HostConfig: req.HostConfig, NetworkingConfig: req.Networking})
	must(t, err)
	must(t, started(r.Start(ctx, res.ID)))
	waitHealthy(t, r, res.ID)

	must(t, r.Setup(ctx))
	if name, _ := podmanNetworkOf(t, r, res.ID); name != agentNetwork(r.cfg.Network, spec.Name, false) {
		t.Errorf("after Setup the agent is on %s, want its own network", name)
	}
	checkNetworks(t, r, shared, 0)
	waitHealthy(t, r, res.ID) // at its published port, as before
}

// TestPodmanAgentsApart: two running agents on Podman cannot reach each
// other by address, also after a third agent stops: netavark 1.4 then
// deletes the one rule its own "isolate" hangs on (podmanfilter.go), so
// this fails unless Warder's rule holds. Each still answers the host.
func TestPodmanAgentsApart(t *testing.T) {
	r := newPodmanRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must(t, r.Setup(ctx))
	var ids, addrs []string
	for range 3 {
		spec := testSpec(t, r)
		id, err := r.Create(ctx, spec)
		must(t, err)
		must(t, started(r.Start(ctx, id)))
		waitHealthy(t, r, id)
		c, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		must(t, err)
		for _, ep := range c.Container.NetworkSettings.Networks {
			addrs = append(addrs, ep.IPAddress.String()+":8000")
		}
		ids = append(ids, id)
	}
	if code, out := probeFrom(t, r, ids[0], "127.0.0.1:8000"); code != 0 {
		t.Fatalf("the probe cannot reach the agent's own port, so the test proves nothing: %s", out)
	}
	must(t, r.Stop(ctx, ids[2], 5*time.Second)) // netavark's complete teardown of its network
	for _, p := range [][2]int{{0, 1}, {1, 0}} {
		if code, out := probeFrom(t, r, ids[p[0]], addrs[p[1]]); code == 0 {
			t.Errorf("agent %d reached agent %d at %s: %s", p[0], p[1], addrs[p[1]], out)
		}
	}
	waitHealthy(t, r, ids[0])
}

// probeFrom runs the agent image's TCP probe of target inside container
// id and returns its exit code and output.
func probeFrom(t *testing.T, r *Runtime, id, target string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"/warder-agent", "probe", target}, AttachStdout: true, AttachStderr: true})
	must(t, err)
	att, err := r.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	must(t, err)
	out, _ := io.ReadAll(att.Reader)
	att.Close()
	for {
		res, err := r.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		must(t, err)
		if !res.Running {
			return res.ExitCode, string(out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
