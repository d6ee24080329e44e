package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// poolRuntime is a runtime with a warm pool of shapes on a network of
// its own (wpool-), whose pool and workspaces are removed at cleanup
// (after the claimed containers each test registers).
func poolRuntime(t *testing.T, shapes ...warder.PoolShape) *Runtime {
	t.Helper()
	r := newRuntime(t, func(c *Config) {
		c.Network = testenv.UniqueName("wpool-net-")
		c.WarmPool = shapes
		c.PortStart, c.PortEnd = 23100, 23399
	})
	if err := r.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.RemovePool(ctx); err != nil {
			t.Errorf("cleanup: remove pool: %v", err)
		}
		if err := r.RemoveWorkspaces(ctx); err != nil {
			t.Errorf("cleanup: remove workspaces: %v", err)
		}
	})
	return r
}

// poolAgentSpec is the spec SpecFor would give a new agent of the default
// image, with a secret and a workspace; its container is removed at
// cleanup.
func poolAgentSpec(t *testing.T, r *Runtime) warder.WorkloadSpec {
	t.Helper()
	id := testenv.UniqueName("wpool-agent-")
	name := warder.ContainerName(id)
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.Remove(ctx, name); err != nil {
			t.Errorf("cleanup: remove container %s: %v", name, err)
		}
	})
	return warder.WorkloadSpec{
		Name: name, AgentID: id, Image: r.cfg.DefaultImage,
		Env: map[string]string{"AGENT_ID": id, "AGENT_NAME": "pooled " + id, "AGENT_TYPE": "t", "PORT": "8000",
			"API_TOKEN": "tenant-secret-" + id},
		Labels:      map[string]string{warder.LabelManaged: r.cfg.Network, warder.LabelAgentID: id},
		MemoryBytes: 48 << 20, MilliCPUs: 250, PidsLimit: warder.PidsLimit, Port: 8000, Publish: true,
		Restart: warder.RestartPolicy{Mode: warder.RestartOnFailure, MaxRetries: 3},
		Workspace: &warder.WorkspaceSpec{Name: warder.WorkspaceName(id), MountPath: warder.WorkspaceMountPath,
			Labels: map[string]string{warder.LabelWorkspace: r.cfg.Network, warder.LabelAgentID: id, warder.LabelUserID: "u1"}},
	}
}

// unclaimedCount is how many pool containers wait, running.
func unclaimedCount(t *testing.T, r *Runtime) int {
	t.Helper()
	members, err := r.poolMembers(context.Background(), false)
	must(t, err)
	n := 0
	for _, c := range members {
		if unclaimed(c) {
			n++
		}
	}
	return n
}

// TestWarmPoolClaim: the pool fills to its size and no further; a claim
// hands a running container to the agent with its name, port, limits,
// restart policy, environment and a workspace of its own, none of which
// `docker inspect` shows the secret of; its logs start at the claim; the
// runtime reports it as the agent's; a second agent's claim gets another
// container and an empty workspace; an empty pool or an agent whose
// workspace exists is ErrNotFound.
func TestWarmPoolClaim(t *testing.T) {
	// One of b's shape, one of the defaults, which a's limits and
	// restart policy are applied to by a live update.
	r := poolRuntime(t, warder.PoolShape{MemoryBytes: 48 << 20, MilliCPUs: 250, Size: 1},
		warder.PoolShape{MemoryBytes: 512 << 20, MilliCPUs: 500, Size: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must(t, r.refill(ctx))
	must(t, r.refill(ctx))
	if n := unclaimedCount(t, r); n != 2 {
		t.Fatalf("pool holds %d containers, want 2", n)
	}
	if list, err := r.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v: unclaimed pool containers are no agent's", list, err)
	}

	a, b := poolAgentSpec(t, r), poolAgentSpec(t, r)
	a.MemoryBytes, a.MilliCPUs = 64<<20, 300
	b.Restart = warder.RestartPolicy{}
	start := time.Now()
	claimed, err := r.Claim(ctx, a)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	t.Logf("claim took %v", time.Since(start))
	idA := claimed.ID
	if !claimed.Running() || claimed.Endpoint == "" || claimed.AgentID != a.AgentID {
		t.Fatalf("Claim reported %+v: want the agent's workload running, with its endpoint", claimed)
	}
	body := waitHealthy(t, r, idA)
	if !strings.Contains(body, `"agent_id":"`+a.AgentID+`"`) {
		t.Fatalf("/health = %s, want agent %s", body, a.AgentID)
	}
	st, err := r.Inspect(ctx, idA)
	must(t, err)
	port, _ := r.cfg.Ports.PortOf(ctx, a.AgentID)
	if st.Name != a.Name || st.AgentID != a.AgentID || !st.Pooled || !st.Running() || st.HostPort == 0 || st.HostPort != port {
		t.Fatalf("claimed = %+v (agent's port %d), want %s running on the agent's port", st, port, a.Name)
	}
	raw, err := r.cli.ContainerInspect(ctx, idA, client.ContainerInspectOptions{})
	must(t, err)
	hc := raw.Container.HostConfig
	if hc.Memory != a.MemoryBytes || hc.MemorySwap != a.MemoryBytes || hc.NanoCPUs != 300_000_000 || *hc.PidsLimit != warder.PidsLimit ||
		hc.RestartPolicy.Name != "on-failure" || hc.RestartPolicy.MaximumRetryCount != 3 {
		t.Fatalf("limits after the claim: memory %d swap %d cpus %d pids %v restart %+v", hc.Memory, hc.MemorySwap, hc.NanoCPUs, *hc.PidsLimit, hc.RestartPolicy)
	}
	if strings.Contains(strings.Join(raw.Container.Config.Env, " "), "tenant-secret") {
		t.Fatalf("the secret shows in docker inspect: %v", raw.Container.Config.Env)
	}
	logs, err := warder.CollectLogs(ctx, r, idA, warder.LogOptions{})
	must(t, err)
	if !strings.Contains(strings.SplitN(logs, "\n", 2)[0], "warder-agent starting agent_id="+a.AgentID) ||
		strings.Contains(logs, "tenant-secret") {
		t.Fatalf("logs of the claimed agent:\n%s", logs)
	}
	if list, err := r.List(ctx); err != nil || len(list) != 1 || list[0].ID != idA || list[0].AgentID != a.AgentID {
		t.Fatalf("List = %+v, %v; want the claimed container as agent %s's", list, err, a.AgentID)
	}

	// The workspace is the agent's, by its usual name.
	must(t, r.WriteTar(ctx, idA, "", oneFile("mine.txt", "tenant a")))
	if n, err := r.WorkspaceUsage(ctx, a.Workspace.Name); err != nil || n <= 0 {
		t.Fatalf("WorkspaceUsage(%s) = %d, %v", a.Workspace.Name, n, err)
	}
	ws, err := r.Workspaces(ctx)
	must(t, err)
	if len(ws) != 1 || ws[0].Name != a.Workspace.Name || ws[0].AgentID != a.AgentID || ws[0].UserID != "u1" {
		t.Fatalf("Workspaces = %+v", ws)
	}

	claimedB, err := r.Claim(ctx, b)
	if err != nil {
		t.Fatalf("second Claim: %v", err)
	}
	idB := claimedB.ID
	if idB == idA {
		t.Fatal("two agents got one container")
	}
	raw, err = r.cli.ContainerInspect(ctx, idB, client.ContainerInspectOptions{})
	must(t, err)
	if hc := raw.Container.HostConfig; hc.Memory != b.MemoryBytes || hc.NanoCPUs != 250_000_000 || raw.Container.Config.Labels[warder.LabelPoolShape] != warder.ShapeKey(b.MemoryBytes, b.MilliCPUs) {
		t.Fatalf("b did not get the container of its shape: memory %d cpus %d labels %v", hc.Memory, hc.NanoCPUs, raw.Container.Config.Labels)
	}
	waitHealthy(t, r, idB)
	entries, err := r.ListDir(ctx, idB, "", 100)
	must(t, err)
	if len(entries) != 0 {
		t.Fatalf("a new agent's workspace holds %v", entries)
	}

	c := poolAgentSpec(t, r)
	if _, err := r.Claim(ctx, c); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Claim on an empty pool = %v, want ErrNotFound", err)
	}
	must(t, r.refill(ctx))
	if n := unclaimedCount(t, r); n != 2 {
		t.Fatalf("pool holds %d containers after the refill, want 2", n)
	}

	// A container made again for agent a (a cold start) mounts its files.
	must(t, r.Remove(ctx, idA))
	if _, err := r.Claim(ctx, a); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Claim for an agent whose workspace exists = %v, want ErrNotFound", err)
	}
	id, err := r.Create(ctx, a)
	must(t, err)
	if got := readOne(t, must2(r.ReadTar(ctx, id, "mine.txt"))); got != "tenant a" {
		t.Fatalf("the workspace after a cold start holds %q", got)
	}
	must(t, r.Remove(ctx, id))
	must(t, r.RemoveWorkspace(ctx, a.Workspace.Name))
	vols, err := r.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", warder.LabelPool+"="+r.cfg.Network)})
	must(t, err)
	if len(vols.Items) != 3 { // b's, and the two waiting: a's went with its workspace
		t.Fatalf("pool volumes after removing a's workspace: %d, want 3", len(vols.Items))
	}
}

// TestWarmPoolReplacesDead: a pool container that dies is replaced by
// KeepPool, without a claim.
func TestWarmPoolReplacesDead(t *testing.T) {
	r := poolRuntime(t, warder.PoolShape{MemoryBytes: 32 << 20, MilliCPUs: 250, Size: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.KeepPool(kctx); close(done) }()
	defer func() { stop(); <-done }()

	first := waitPool(t, r, "")
	if _, err := r.cli.ContainerKill(ctx, first, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	waitPool(t, r, first)
	members, err := r.poolMembers(ctx, true)
	must(t, err)
	if len(members) != 1 {
		t.Fatalf("%d pool containers after the replacement, want 1", len(members))
	}
}

// waitPool waits until one pool container other than not runs, and
// returns its id.
func waitPool(t *testing.T, r *Runtime, not string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		members, err := r.poolMembers(context.Background(), false)
		must(t, err)
		for _, c := range members {
			if c.ID != not && unclaimed(c) {
				return c.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pool container but %q within 90 s", not)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
