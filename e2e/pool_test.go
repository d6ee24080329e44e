package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
)

// newPoolServer is a Warder with a warm pool of size on a network named
// for this work (wpool-), waiting until the pool is full.
func newPoolServer(t *testing.T, size int, change func(*app.Config)) *testServer {
	t.Helper()
	ts := newTestServer(t, func(c *app.Config) {
		c.Network = e2etest.Network(t, "wpool-net-")
		c.WarmPool = []warder.PoolShape{{MemoryBytes: 32 << 20, MilliCPUs: 250, Size: size}} // CreateAgent's
		if change != nil {
			change(c)
		}
	})
	waitPoolSize(t, ts.Config.Network, size)
	return ts
}

// waitPoolSize waits until exactly n unclaimed pool containers run, and
// fails if more than n ever wait at once: the operator's size bounds the
// pool.
func waitPoolSize(t *testing.T, network string, n int) {
	t.Helper()
	cli := dockerClient(t)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		running, all := poolContainers(t, cli, network)
		if all > n {
			t.Fatalf("%d unclaimed pool containers, over the size %d", all, n)
		}
		if running == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool never reached %d running containers (%d)", n, running)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// poolContainers counts the unclaimed pool containers: running, and all.
func poolContainers(t *testing.T, cli *moby.Client, network string) (running, all int) {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), moby.ContainerListOptions{All: true,
		Filters: moby.Filters{}.Add("label", warder.LabelPool+"="+network)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Items {
		if strings.HasPrefix(strings.TrimPrefix(c.Names[0], "/"), docker.PoolPrefix) {
			all++
			if c.State == "running" {
				running++
			}
		}
	}
	return running, all
}

// pooled reports whether the agent's container came from the warm pool.
func pooled(t *testing.T, cli *moby.Client, containerID string) bool {
	t.Helper()
	res, err := cli.ContainerInspect(context.Background(), containerID, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.Config.Labels[warder.LabelPool] != ""
}

// startByID starts the agent and returns it as it is then.
func startByID(c *apitest.Client, id string) apitest.Agent {
	c.T.Helper()
	c.MustDo("POST", "/api/agents/"+id+"/start", nil, 200, nil)
	var a apitest.Agent
	c.MustDo("GET", "/api/agents/"+id, nil, 200, &a)
	return a
}

// TestWarmStart: with a warm pool, POST /start and a first chat to a
// never-started agent both take a pool container; what users see is what
// a cold start shows (status, host port, logs from the start, stats,
// chat, env and secrets in the agent, none of them in the container's
// configuration); stop and start keep the container; the engine's
// events about a claimed container reach its agent; the pool is
// refilled to its size and never above it; pool containers count against
// no quota; deleting the agent deletes its workspace.
func TestWarmStart(t *testing.T) {
	two := 2
	ts := newPoolServer(t, 2, func(c *app.Config) { c.Quota.RunningAgents = &two })
	c := ts.register(t, "root")
	cli := dockerClient(t)
	a := c.CreateWith("warm", map[string]any{"env_vars": map[string]string{"GREETING": "hi"},
		"secret_env": map[string]string{"API_TOKEN": "tenant-secret"}})

	started := startByID(c, a.ID)
	if started.Status != warder.StatusRunning || started.HostPort == nil || !pooled(t, cli, started.ContainerID) {
		t.Fatalf("after a warm start: %+v", started)
	}
	raw, err := cli.ContainerInspect(context.Background(), started.ContainerID, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Container.Name != "/"+warder.ContainerName(a.ID) || raw.Container.HostConfig.Memory != 32<<20 ||
		strings.Contains(strings.Join(raw.Container.Config.Env, " "), "tenant-secret") {
		t.Fatalf("the claimed container: name %s, memory %d, env %v", raw.Container.Name, raw.Container.HostConfig.Memory, raw.Container.Config.Env)
	}
	for _, b := range raw.Container.NetworkSettings.Ports {
		if len(b) == 0 || b[0].HostPort != itoa(*started.HostPort) {
			t.Fatalf("published %v, the agent's host_port is %d", b, *started.HostPort)
		}
	}
	logs := c.WaitLogs(a.ID, "warder-agent starting agent_id="+a.ID, 10*time.Second)
	if first := strings.SplitN(logs, "\n", 2)[0]; !strings.Contains(first, "agent_id="+a.ID) || !strings.Contains(first, "env=[API_TOKEN GREETING]") {
		t.Fatalf("logs do not start with the agent's start-up line:\n%s", logs)
	}
	var reply warder.ChatReply
	c.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"}, 200, &reply)
	if reply.Content == "" {
		t.Fatalf("chat answered %+v", reply)
	}
	c.MustDo("GET", "/api/agents/"+a.ID+"/stats", nil, 200, nil)

	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	again := startByID(c, a.ID)
	if again.ContainerID != started.ContainerID || again.Status != warder.StatusRunning {
		t.Fatalf("start after stop: %+v, want the same container running", again)
	}

	// A first chat to a never-started agent starts it from the pool too.
	b := c.CreateAgent("chatted")
	c.MustDo("POST", "/api/agents/"+b.ID+"/chat", map[string]any{"content": "wake up"}, 200, &reply)
	var bb apitest.Agent
	c.MustDo("GET", "/api/agents/"+b.ID, nil, 200, &bb)
	if bb.Status != warder.StatusRunning || !pooled(t, cli, bb.ContainerID) || bb.ContainerID == started.ContainerID {
		t.Fatalf("after the first chat: %+v", bb)
	}
	var files warder.DirListing
	c.MustDo("GET", "/api/agents/"+b.ID+"/files/", nil, 200, &files)
	if len(files.Entries) != 0 {
		t.Fatalf("a new agent's workspace holds %+v", files.Entries)
	}

	// Both pool containers were claimed; the pool is back to 2, and the
	// two running agents are all the quota allows, the pool's aside.
	waitPoolSize(t, ts.Config.Network, 2)
	x := c.CreateAgent("over")
	if status, body := c.Do("POST", "/api/agents/"+x.ID+"/start", nil); status != 409 && status != 429 {
		t.Fatalf("a third running agent with a quota of 2: %d %s", status, body)
	}

	// The engine's events about a claimed container reach its agent.
	if _, err := cli.ContainerKill(context.Background(), bb.ContainerID, moby.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	if got := c.WaitStatus(b.ID, statusWithin, apitest.Is(warder.StatusExited)); got.ExitCode == nil || *got.ExitCode != 137 {
		t.Fatalf("after its container was killed: %+v", got)
	}

	vol := warder.WorkspaceName(a.ID)
	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	if _, err := cli.VolumeInspect(context.Background(), vol, moby.VolumeInspectOptions{}); err == nil {
		t.Fatalf("workspace %s outlived its agent", vol)
	}
}

// TestWarmClaimInterrupted: a claim whose Warder died before recording it
// (the container renamed and configured, the agent still "starting") is
// settled by the resync that follows a restart: the agent is failed, not
// stuck, the container removed, and the agent starts again.
func TestWarmClaimInterrupted(t *testing.T) {
	ts := newPoolServer(t, 1, nil)
	c := ts.register(t, "root")
	cli := dockerClient(t)
	a := c.CreateAgent("interrupted")
	ctx := context.Background()
	store, rt := ts.App.Store(), ts.App.Runtime().(*docker.Runtime)

	ag, err := store.Agent(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	ag.Status = warder.StatusStarting // what start records before it claims
	if err := store.UpdateAgent(ctx, ag); err != nil {
		t.Fatal(err)
	}
	spec, err := warder.SpecFor(ag, warder.SpecSettings{Network: ts.Config.Network, Workspaces: true})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := rt.Claim(ctx, spec) // and then Warder died
	if err != nil {
		t.Fatal(err)
	}
	id := claimed.ID

	if err := ts.App.Service().Observe.Resync(ctx); err != nil { // what a restart runs first
		t.Fatal(err)
	}
	got := c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusFailed))
	if !strings.Contains(got.StatusReason, "interrupted") || got.ContainerID != "" {
		t.Fatalf("after the resync: %+v", got)
	}
	if _, err := cli.ContainerInspect(ctx, id, moby.ContainerInspectOptions{}); err == nil {
		t.Fatalf("the half-claimed container %s was left", id)
	}
	if again := startByID(c, a.ID); again.Status != warder.StatusRunning {
		t.Fatalf("start after the interrupted claim: %+v", again)
	}
	if _, err := rt.Inspect(ctx, id); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Inspect(%s) = %v", id, err)
	}
}

// TestKill9DuringWarmStarts: as TestKill9DuringStarts, with a warm pool
// of 8 and Warder killed 100 ms into the 20 starts, while claims are
// being renamed and handed over: after the restart no agent is stuck, no
// claimed container is left without its agent, no port is held twice,
// and every agent starts.
func TestKill9DuringWarmStarts(t *testing.T) {
	kill9DuringStarts(t, []string{"WARDER_WARM_POOL=32m/0.25=8"}, 8, 100*time.Millisecond)
}
