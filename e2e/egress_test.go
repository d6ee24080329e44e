package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestEgress: an agent on the internal network cannot open a connection
// to a host outside the Docker host; one on the egress network can. Both
// are checked from inside, with the agent binary's probe. (Either can
// reach the Docker host's own addresses: see the README.)
func TestEgress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	_, binary := testImage(t)
	outside := newOutsideHost(t, binary)

	inside := c.CreateWith("inside", map[string]any{"network": "internal"})
	open := c.CreateWith("open", map[string]any{"network": "egress"})
	for _, a := range []apitest.Agent{inside, open} {
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	}
	c.MustDo("GET", "/api/agents/"+inside.ID, nil, 200, &inside)
	c.MustDo("GET", "/api/agents/"+open.ID, nil, 200, &open)
	if inside.HostPort != nil || inside.ContainerConfig.Network != "internal" {
		t.Fatalf("internal agent: %+v", inside)
	}
	cli := dockerClient(t)
	if code, out := execProbe(t, cli, open.ContainerID, outside.Addr); code != 0 {
		t.Fatalf("the egress agent cannot reach %s: %s", outside.Addr, out)
	}
	if code, out := execProbe(t, cli, inside.ContainerID, outside.Addr); code == 0 {
		t.Fatalf("the internal agent reached %s: %s", outside.Addr, out)
	}
	// Warder itself still reaches the internal agent, at its container address.
	ep, err := ts.App.Service().Chat.Endpoint(context.Background(), &inside.Agent)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + ep + "/health")
	if err != nil {
		t.Fatalf("Warder cannot reach the internal agent at %s: %v", ep, err)
	}
	resp.Body.Close()

	// With egress forbidden, asking for it is a 403 naming the switch.
	ts2 := newTestServer(t, func(c *app.Config) { c.AllowEgress = false; c.DefaultNetwork = "internal" })
	c2 := ts2.register(t, "root")
	status, raw := c2.Do("POST", "/api/agents", map[string]any{"name": "x", "container_config": map[string]any{"network": "egress"}})
	if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_ALLOW_EGRESS") {
		t.Fatalf("egress while forbidden = %d %s", status, raw)
	}
	var a apitest.Agent
	c2.MustDo("POST", "/api/agents", map[string]any{"name": "y"}, 201, &a)
	if a.ContainerConfig.Network != warder.NetworkInternal {
		t.Fatalf("default network = %q", a.ContainerConfig.Network)
	}
}

// execProbe runs the agent binary's probe inside a container.
func execProbe(t *testing.T, cli *moby.Client, id, target string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := cli.ExecCreate(ctx, id, moby.ExecCreateOptions{Cmd: []string{"/warder-agent", "probe", target}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := cli.ExecAttach(ctx, ex.ID, moby.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := att.Reader.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	att.Close()
	for {
		res, err := cli.ExecInspect(ctx, ex.ID, moby.ExecInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Running {
			return res.ExitCode, out.String()
		}
		time.Sleep(50 * time.Millisecond)
	}
}
