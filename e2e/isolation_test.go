package e2e

import (
	"context"
	"net"
	"net/http"
	"testing"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestTenantIsolation: from inside a real agent container (the agent
// image, built FROM scratch by the test, carries a TCP probe), no agent can
// open a connection to another agent, by container address or by name, on
// the egress network or the internal one; not another user's, and not its
// owner's other agents either, nor an agent on the other network
// (documented in docs/security.md). Warder itself still reaches and talks
// to every one of them.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	tenantIsolation(t, newTestServer(t, nil), dockerClient(t))
}

// tenantIsolation is TestTenantIsolation on ts, whose engine cli reaches
// (Docker, or Podman for TestPodmanTenantIsolation): the agents' own
// containers, probed from inside.
func tenantIsolation(t *testing.T, ts *testServer, cli *moby.Client) {
	ts.register(t, "root") // the admin, so alice and bob are plain users
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")

	type agent struct {
		apitest.Agent
		ip string
	}
	start := func(t *testing.T, c *apitest.Client, name, network string) agent {
		t.Helper()
		a := c.CreateWith(name, map[string]any{"network": network})
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
		return agent{a, containerIP(t, cli, a.ContainerID)}
	}
	firsts := map[string]agent{} // alice's first agent on each network
	for _, network := range []string{warder.NetworkEgress, warder.NetworkInternal} {
		t.Run(network, func(t *testing.T) {
			mine, mine2 := start(t, alice, "a1-"+network, network), start(t, alice, "a2-"+network, network)
			theirs := start(t, bob, "b1-"+network, network)
			firsts[network] = theirs

			// The probe works: each agent reaches itself.
			if code, out := execProbe(t, cli, mine.ContainerID, "127.0.0.1:8000"); code != 0 {
				t.Fatalf("probe of the agent's own port failed, so the test proves nothing: %s", out)
			}
			for _, target := range []agent{theirs, mine2} {
				for _, addr := range []string{
					net.JoinHostPort(target.ip, "8000"),
					warder.ContainerName(target.ID) + ":8000",
				} {
					if code, out := execProbe(t, cli, mine.ContainerID, addr); code == 0 {
						t.Errorf("alice's agent on %s reached %s (agent of %s): %s", network, addr, target.Name, out)
					}
				}
			}
			if code, out := execProbe(t, cli, theirs.ContainerID, net.JoinHostPort(mine.ip, "8000")); code == 0 {
				t.Errorf("bob's agent on %s reached alice's: %s", network, out)
			}

			// Warder still reaches every agent: its health, and a chat through it.
			for _, x := range []struct {
				c *apitest.Client
				a agent
			}{{alice, mine}, {alice, mine2}, {bob, theirs}} {
				if x.a.HostPort != nil {
					x.a.Agent.Agent.HostPort = *x.a.HostPort
				}
				ep, err := ts.App.Service().Chat.Endpoint(context.Background(), &x.a.Agent.Agent)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.Get("http://" + ep + "/health")
				if err != nil {
					t.Fatalf("Warder cannot reach %s at %s: %v", x.a.Name, ep, err)
				}
				resp.Body.Close()
				status, raw := x.c.Do("POST", "/api/agents/"+x.a.ID+"/chat", map[string]any{"content": "ping"})
				if status != http.StatusOK {
					t.Fatalf("chat with %s through Warder = %d %s", x.a.Name, status, raw)
				}
			}
		})
	}
	// Nor across the two networks: bob's agent without egress and his
	// agent with it cannot reach each other either way.
	open, closed := firsts[warder.NetworkEgress], firsts[warder.NetworkInternal]
	if open.ID == "" || closed.ID == "" {
		return // a subtest failed before starting its agents
	}
	for _, p := range [][2]agent{{open, closed}, {closed, open}} {
		if code, out := execProbe(t, cli, p[0].ContainerID, net.JoinHostPort(p[1].ip, "8000")); code == 0 {
			t.Errorf("%s reached %s across networks: %s", p[0].Name, p[1].Name, out)
		}
	}
}

// containerIP is the container's address on its one network.
func containerIP(t *testing.T, cli *moby.Client, id string) string {
	t.Helper()
	res, err := cli.ContainerInspect(context.Background(), id, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, ep := range res.Container.NetworkSettings.Networks {
		if ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
		t.Fatalf("container %s has no address on %s", id, name)
	}
	t.Fatalf("container %s is on no network", id)
	return ""
}
