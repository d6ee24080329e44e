package e2e

import (
	"context"
	"strings"
	"testing"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// requireGVisor skips (fails with WARDER_REQUIRE_GVISOR=1, as CI sets)
// unless the engine lists runsc (bash .ci/gvisor.sh register).
func requireGVisor(t *testing.T, cli *moby.Client) {
	t.Helper()
	info, err := cli.Info(context.Background(), moby.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.Info.Runtimes["runsc"]; !ok {
		testenv.SkipOrFail(t, "WARDER_REQUIRE_GVISOR", "the engine has no runtime runsc (bash .ci/gvisor.sh register)")
	}
}

// TestIsolationLevelsAPI: container_config.isolation through the API. On
// a deployment allowing runc and gvisor an agent asking for gvisor is
// made (and shows it), runs under runsc, answers chat, logs, stats, files
// and exec from inside gVisor's kernel; a level that does not exist, or
// one the deployment does not offer, is a 400 naming what is available;
// PATCH changes it while stopped; an agent naming none shows "" and runs
// at the deployment's default.
func TestIsolationLevelsAPI(t *testing.T) {
	t.Parallel()
	cli := dockerClient(t)
	requireGVisor(t, cli)
	ts := newTestServer(t, func(c *app.Config) {
		c.Isolations = []warder.Isolation{warder.IsolationRunc, warder.IsolationGVisor}
	})
	alice := ts.register(t, "alice")

	if code, raw := alice.Do("POST", "/api/agents", map[string]any{"name": "bad", "container_config": map[string]any{"isolation": "kata"}}); code != 400 ||
		!strings.Contains(apitest.DetailOf(t, raw), "runc, gvisor") {
		t.Fatalf("isolation kata = %d %s", code, raw)
	}
	a := alice.CreateWith("sandboxed", map[string]any{"isolation": "gvisor"})
	if a.ContainerConfig.Isolation != "gvisor" {
		t.Fatalf("container_config.isolation = %q", a.ContainerConfig.Isolation)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if rt := runtimeOf(t, cli, a.ContainerID); rt != "runsc" {
		t.Fatalf("the agent's container runs with %q, not runsc", rt)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"}, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID+"/logs", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID+"/stats", nil, 200, nil)
	alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/notes.md", "kept in the sandbox's workspace", 200, nil)
	if code, raw := alice.Do("GET", "/api/agents/"+a.ID+"/files/notes.md", nil); code != 200 || string(raw) != "kept in the sandbox's workspace" {
		t.Fatalf("GET file = %d %q", code, raw)
	}
	code, raw := alice.Do("POST", "/api/agents/"+a.ID+"/exec", map[string]any{"cmd": []string{"/warder-agent", "cat", "/proc/version", "/data/notes.md"}})
	if code != 200 || !strings.Contains(string(raw), "gVisor") && strings.Contains(string(raw), "Linux version 6") || !strings.Contains(string(raw), "kept in") {
		t.Fatalf("exec under gVisor = %d %s", code, raw)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	alice.MustDo("PATCH", "/api/agents/"+a.ID, map[string]any{"container_config": map[string]any{"isolation": "runc"}}, 200, &a)
	if a.ContainerConfig.Isolation != "runc" {
		t.Fatalf("after PATCH, isolation = %q", a.ContainerConfig.Isolation)
	}

	d := alice.CreateWith("default", nil)
	if d.ContainerConfig.Isolation != "" {
		t.Fatalf("an agent naming no level shows %q", d.ContainerConfig.Isolation)
	}
	alice.MustDo("POST", "/api/agents/"+d.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+d.ID, nil, 200, &d)
	if rt := runtimeOf(t, cli, d.ContainerID); rt != "" && rt != "runc" {
		t.Fatalf("an agent at the default (runc) runs with %q", rt)
	}

	// A deployment offering runc alone names it.
	plain := newTestServer(t, nil)
	bob := plain.register(t, "bob")
	if code, raw := bob.Do("POST", "/api/agents", map[string]any{"name": "want-gvisor", "container_config": map[string]any{"isolation": "gvisor"}}); code != 400 ||
		!strings.Contains(apitest.DetailOf(t, raw), "available: runc") {
		t.Fatalf("isolation gvisor where only runc is offered = %d %s", code, raw)
	}
}

// TestTenantIsolationGVisor is TestTenantIsolation with every agent under
// gVisor (the deployment's default level): no agent reaches another, by
// address or name, on either network, and Warder reaches them all.
func TestTenantIsolationGVisor(t *testing.T) {
	t.Parallel()
	cli := dockerClient(t)
	requireGVisor(t, cli)
	ts := newTestServer(t, func(c *app.Config) { c.Isolations = []warder.Isolation{warder.IsolationGVisor} })
	tenantIsolation(t, ts, cli)
}

// runtimeOf is the engine runtime container id runs with.
func runtimeOf(t *testing.T, cli *moby.Client, id string) string {
	t.Helper()
	res, err := cli.ContainerInspect(context.Background(), id, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.HostConfig.Runtime
}
