package e2e

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// podmanWithin is how soon a change behind Warder's back must show on
// Podman (its events come through its own event log).
const podmanWithin = 10 * time.Second

// podmanClient is a plain Engine API client on the Podman service: the
// test acting behind Warder's back.
func podmanClient(t *testing.T, host string) *moby.Client {
	t.Helper()
	cli, err := moby.New(moby.WithHost(host), moby.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestPodman: Warder on Podman's Docker-compatible socket, through its
// HTTP API: an agent starts and answers, a crash shows as exited with its
// code, a kill and a removal made with the podman command show as exited
// and missing, and an agent on the internal network cannot reach a host
// beyond this one while one on the egress network can.
func TestPodman(t *testing.T) {
	t.Parallel()
	host, _, binary := e2etest.PodmanAgentImage(t)
	ts := &testServer{e2etest.NewPodmanServer(t, nil)}
	c := ts.register(t, "root")

	a := c.CreateAgent("helper")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, podmanWithin, apitest.Is(warder.StatusRunning))
	var answer map[string]any
	c.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "Hello"}, 200, &answer)
	if a.HostPort == nil {
		t.Fatalf("running agent without a host port: %+v", a)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(*a.HostPort) + "/health")
	if err != nil {
		t.Fatalf("the agent's host port: %v", err)
	}
	resp.Body.Close()

	// Workspaces, files and exec work on Podman: a file written through
	// the API is in /data for the agent's own commands, and back out.
	files := "/api/agents/" + a.ID + "/files/"
	c.MustDo("PUT", files+"notes/plan.txt", "step one", 200, nil)
	if out, exit := runAll(t, c, a.ID, "/warder-agent", "cat", "/data/notes/plan.txt"); out != "step one" || !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("exec on Podman reading the workspace: %q, exit %s", out, exit)
	}
	if _, exit := runAll(t, c, a.ID, "/warder-agent", "write", "/data/by-agent.txt"); !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("the agent writing its workspace on Podman: exit %s", exit)
	}
	if status, raw := c.Do("GET", files+"by-agent.txt", nil); status != 200 {
		t.Fatalf("a file the agent wrote, through the API on Podman = %d %s", status, raw)
	}

	crash := c.CreateWith("crasher", map[string]any{"env_vars": map[string]string{
		"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "300ms"}})
	c.MustDo("POST", "/api/agents/"+crash.ID+"/start", nil, 200, nil)
	crash = c.WaitStatus(crash.ID, podmanWithin, apitest.Is(warder.StatusExited))
	if crash.ExitCode == nil || *crash.ExitCode != 3 {
		t.Errorf("after a crash with code 3: %+v", crash)
	}

	testenv.PodmanCLI(t, "kill", a.ContainerID)
	a = c.WaitStatus(a.ID, podmanWithin, apitest.Is(warder.StatusExited))
	if a.ExitCode == nil || *a.ExitCode != 137 {
		t.Errorf("after podman kill: %+v", a)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, podmanWithin, apitest.Is(warder.StatusRunning))
	testenv.PodmanCLI(t, "rm", "-f", a.ContainerID)
	c.WaitStatus(a.ID, podmanWithin, apitest.Is(warder.StatusMissing))
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.WaitStatus(a.ID, podmanWithin, apitest.Is(warder.StatusRunning))
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	c.WaitStatus(a.ID, podmanWithin, apitest.Is(warder.StatusStopped))

	t.Run("egress", func(t *testing.T) {
		outside := newOutsideHost(t, binary)
		cli := podmanClient(t, host)
		inside := c.CreateWith("inside", map[string]any{"network": "internal"})
		open := c.CreateWith("open", map[string]any{"network": "egress"})
		for _, x := range []apitest.Agent{inside, open} {
			c.MustDo("POST", "/api/agents/"+x.ID+"/start", nil, 200, nil)
		}
		c.MustDo("GET", "/api/agents/"+inside.ID, nil, 200, &inside)
		c.MustDo("GET", "/api/agents/"+open.ID, nil, 200, &open)
		if code, out := execProbe(t, cli, open.ContainerID, outside.Addr); code != 0 {
			t.Fatalf("the egress agent cannot reach %s, so the test proves nothing: %s", outside.Addr, out)
		}
		if code, out := execProbe(t, cli, inside.ContainerID, outside.Addr); code == 0 {
			t.Fatalf("the internal agent reached %s: %s", outside.Addr, out)
		}
		// Nor through the network's DNS server, which would otherwise
		// pass its questions on to the host's resolver: a side channel.
		const name = "proxy.golang.org"
		code, out := execProbe(t, cli, inside.ContainerID, name+":443")
		t.Logf("DNS probe from the internal agent: exit %d: %s", code, out)
		if code == 0 || !strings.Contains(out, "lookup "+name) {
			t.Errorf("the internal agent resolved %s: %s", name, out)
		}
		if _, err := net.LookupHost(name); err != nil {
			t.Logf("this host cannot resolve %s either (%v), so the DNS check proves little here", name, err)
		}
		// Warder still reaches the internal agent, at its container address.
		c.MustDo("POST", "/api/agents/"+inside.ID+"/chat", map[string]any{"content": "Hello"}, 200, nil)

		// Each agent is on a network of its own (docs/podman.md), which
		// goes with the agent.
		if own := networksOf(t, cli, open.ID); len(own) != 1 {
			t.Errorf("the egress agent's own networks: %v, want one", own)
		}
		c.MustDo("DELETE", "/api/agents/"+open.ID, nil, 200, nil)
		if left := networksOf(t, cli, open.ID); len(left) > 0 {
			t.Errorf("networks left after deleting the agent: %v", left)
		}
	})
}

// TestPodmanTenantIsolation is TestTenantIsolation on Podman: no agent
// reaches another, of its own user or another's, on either network or
// across them, while Warder reaches and chats with each.
func TestPodmanTenantIsolation(t *testing.T) {
	t.Parallel()
	host, _, _ := e2etest.PodmanAgentImage(t)
	tenantIsolation(t, &testServer{e2etest.NewPodmanServer(t, nil)}, podmanClient(t, host))
}

// networksOf names the engine's networks that carry the agent's
// container name in theirs: its own networks on Podman.
func networksOf(t *testing.T, cli *moby.Client, agentID string) []string {
	t.Helper()
	res, err := cli.NetworkList(context.Background(), moby.NetworkListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range res.Items {
		if strings.Contains(n.Name, warder.ContainerName(agentID)) {
			names = append(names, n.Name)
		}
	}
	return names
}
