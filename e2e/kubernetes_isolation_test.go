package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestKubernetesTenantIsolation: on a cluster that enforces NetworkPolicies
// (the test cluster runs kube-network-policies: kubernetes/testcluster),
// Warder's policies keep every agent from opening a connection to another
// agent's pod, another user's or its owner's own, on either network, and
// keep an agent on the internal network from opening any connection at
// all. Controls show the paths are open otherwise: a pod labelled as
// Warder's control plane reaches the agents, an egress agent reaches the
// node, and Warder, from the node, reaches and talks to every agent.
func TestKubernetesTenantIsolation(t *testing.T) {
	t.Parallel()
	ts, cluster := e2etest.NewKubernetesServer(t, nil)
	apitest.Register(t, ts.URL, "root") // the admin, so alice and bob are plain users
	alice, bob := apitest.Register(t, ts.URL, "alice"), apitest.Register(t, ts.URL, "bob")
	ns := ts.Config.K8sNamespace

	type agent struct {
		apitest.Agent
		c       *apitest.Client
		owner   string
		network string
		ip      string
	}
	clients := map[*apitest.Client]string{alice: "alice", bob: "bob"}
	start := func(c *apitest.Client, name, network string) agent {
		t.Helper()
		a := c.CreateWith(name, map[string]any{"network": network})
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
		ip := strings.TrimSpace(cluster.Kubectl(t, "get", "pod", "-n", ns, a.ContainerName, "-o", "jsonpath={.status.podIP}"))
		if net.ParseIP(ip) == nil {
			t.Fatalf("pod of %s has no address: %q", name, ip)
		}
		return agent{a, c, clients[c], network, ip}
	}
	// probe runs the agent image's TCP probe inside from's pod: true if a
	// connection to addr opened within 3 s.
	probe := func(from agent, addr string) (bool, string) {
		out, err := cluster.Try("exec", "-n", ns, from.ContainerName, "--", "/warder-agent", "probe", addr)
		if err != nil && !strings.Contains(err.Error(), "exit code 1") {
			t.Fatalf("probe from %s to %s: %v (%s)", from.Name, addr, err, out)
		}
		return err == nil, strings.TrimSpace(out)
	}
	port := func(a agent) string { return net.JoinHostPort(a.ip, "8000") }

	mine := start(alice, "a1", warder.NetworkEgress)
	mine2 := start(alice, "a2", warder.NetworkEgress)
	theirs := start(bob, "b1", warder.NetworkEgress)
	internal := start(alice, "a-int", warder.NetworkInternal)
	theirsInternal := start(bob, "b-int", warder.NetworkInternal)

	// A pod in another namespace of the cluster, labelled as Warder's
	// control plane: anyone able to make a pod anywhere could do that. It
	// is made now so the policy controller knows it well before it probes.
	elsewhere := testenv.UniqueName("wt-other-")
	cluster.Kubectl(t, "create", "namespace", elsewhere)
	t.Cleanup(func() { cluster.Kubectl(t, "delete", "namespace", elsewhere, "--wait=false") })
	image, _ := e2etest.AgentImage(t)
	cluster.Kubectl(t, "run", "outsider", "-n", elsewhere, "--image", image, "--image-pull-policy", "Never", "--restart", "Never",
		"--labels", "warder.io/control-plane=true", "--env", "PORT=8000", "--env", "AGENT_ID=outsider")

	// A listener on the node, which the agents' network lets pods reach.
	node := nodeListener(t, cluster.NodeIP(t))

	// Enforcement follows the pods asynchronously (the controller learns
	// a pod's address from the API server): wait until the first pair is
	// cut, then every other must be at once.
	for deadline := time.Now().Add(90 * time.Second); ; {
		ok, out := probe(mine, port(theirs))
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's agent still reaches bob's after 90 s, so no policy is enforced: %s", out)
		}
		time.Sleep(time.Second)
	}
	for _, x := range []struct{ from, to agent }{
		{mine, mine2}, {theirs, mine}, {mine, internal}, {internal, theirsInternal}, {theirsInternal, mine},
	} {
		if ok, out := probe(x.from, port(x.to)); ok {
			t.Errorf("%s's agent %s (%s) reached %s's agent %s (%s): %s", x.from.owner, x.from.Name, x.from.network, x.to.owner, x.to.Name, x.to.network, out)
		}
	}
	if ok, out := probe(mine, node); !ok {
		t.Fatalf("an egress agent cannot reach the node at %s, so the internal agent's failure below proves nothing: %s", node, out)
	}
	if ok, out := probe(internal, node); ok {
		t.Errorf("an internal agent opened a connection to the node at %s: %s", node, out)
	}
	// The test cluster's guard keeps what pods send on this machine: they
	// reach pods and the node only. A container of Docker's, on this
	// machine, is as far as a test may check that from.
	if ok, out := probe(mine, net.JoinHostPort(dockerContainerIP(t), "8000")); ok {
		t.Errorf("a pod reached a Docker container, past the test cluster's guard: %s", out)
	}

	// The control: the same pod, once labelled as Warder's control plane
	// (as Warder's own pod is when it runs in the cluster), reaches bob's
	// agent: the path is open, and the policy is what cut it.
	cluster.Kubectl(t, "label", "pod", "-n", ns, mine.ContainerName, "warder.io/control-plane=true")
	for deadline := time.Now().Add(60 * time.Second); ; {
		ok, out := probe(mine, port(theirs))
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a control-plane pod cannot reach an agent after 60 s, so the path is closed whatever the policies say: %s", out)
		}
		time.Sleep(time.Second)
	}

	// But a pod labelled so in another namespace is not let in: only
	// Warder's namespace (here, with Warder outside the cluster, the
	// agents' own) is.
	cluster.Kubectl(t, "wait", "-n", elsewhere, "--for", "condition=Ready", "pod/outsider", "--timeout", "120s")
	out, err := cluster.Try("exec", "-n", elsewhere, "outsider", "--", "/warder-agent", "probe", port(theirs))
	if err == nil {
		t.Errorf("a control-plane-labelled pod in namespace %s reached bob's agent: %s", elsewhere, out)
	} else if !strings.Contains(err.Error(), "exit code 1") {
		t.Fatalf("probe from the other namespace: %v (%s)", err, out)
	}

	// Warder, from the node, reaches every agent: a chat through it.
	for _, a := range []agent{mine2, theirs, internal, theirsInternal} {
		status, raw := a.c.Do("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "ping"})
		if status != http.StatusOK {
			t.Fatalf("chat with %s through Warder = %d %s", a.Name, status, raw)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, a := range []agent{mine, mine2, theirs, internal, theirsInternal} {
		a.c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
		if _, err := ts.App.Runtime().Inspect(ctx, a.ContainerID); err == nil {
			t.Errorf("workload of %s still there after delete", a.Name)
		}
	}
}

// dockerContainerIP starts an agent container on Docker's default bridge,
// removed by id when the test ends, and returns its address there.
func dockerContainerIP(t *testing.T) string {
	t.Helper()
	cli := dockerClient(t)
	image, _ := e2etest.AgentImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ContainerCreate(ctx, moby.ContainerCreateOptions{
		Name:   testenv.UniqueName("warder-test-guard-"),
		Config: &container.Config{Image: image, Env: []string{"PORT=8000", "AGENT_ID=guard"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ContainerRemove(ctx, res.ID, moby.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: removing container %s: %v", res.ID, err)
		}
	})
	if _, err := cli.ContainerStart(ctx, res.ID, moby.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return containerIP(t, cli, res.ID)
}

// nodeListener listens on a free port of ip (the test cluster's node
// address, which pods reach), accepting and closing every connection
// until the test ends, and returns its address.
func nodeListener(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}
