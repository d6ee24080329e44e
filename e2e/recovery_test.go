package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/loopfs"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestDockerReconnect: Warder's connection to Docker is cut and restored;
// meanwhile container endpoints say Docker is unavailable, and a change
// made while it was cut shows once it is back.
func TestDockerReconnect(t *testing.T) {
	testenv.Docker(t)
	proxy := testenv.DockerProxy(t)
	ts := newTestServer(t, func(c *app.Config) { c.DockerHost = proxy.Host() })
	c := ts.register(t, "root")
	cli := dockerClient(t)
	a := c.CreateAgent("survivor")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))

	proxy.Cut()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, raw := c.Do("GET", "/api/agents/"+a.ID+"/logs", nil)
		if status == http.StatusServiceUnavailable && strings.Contains(apitest.DetailOf(t, raw), "Docker is unavailable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs with Docker cut off = %d %s", status, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := cli.ContainerKill(context.Background(), a.ContainerID, moby.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	var mid apitest.Agent
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &mid)
	if mid.Status != warder.StatusRunning {
		t.Fatalf("status changed while Warder could not see Docker: %s", mid.Status)
	}
	proxy.Restore()
	// Reconnecting waits out a backoff of up to a few seconds.
	a = c.WaitStatus(a.ID, 15*time.Second, apitest.Is(warder.StatusExited))
	if a.ExitCode == nil || *a.ExitCode != 137 {
		t.Fatalf("after reconnect: %+v", a)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
}

// TestKill9DuringStarts: Warder is killed with SIGKILL while 20 agents are
// starting; started again, every agent's status matches Docker, no orphan
// container is left, and no port is held twice.
func TestKill9DuringStarts(t *testing.T) {
	kill9DuringStarts(t, nil, 0, 1500*time.Millisecond) // some started, some starting, some not yet begun
}

// kill9DuringStarts runs Warder (with env added), waits for pool
// unclaimed warm pool containers, starts 20 agents at once, kills Warder
// with SIGKILL after killAfter, starts it again, and checks every agent's
// status against Docker, orphans, ports, and that every agent starts
// then.
func kill9DuringStarts(t *testing.T, extraEnv []string, pool int, killAfter time.Duration) {
	image, binary := testImage(t)
	bin := e2etest.BuildWarder(t)
	network := e2etest.Network(t, "warder-test-net-")
	dataDir := t.TempDir()
	port := freePort(t)
	env := append(os.Environ(),
		"WARDER_ADDR=127.0.0.1:"+fmt.Sprint(port), "WARDER_DATA_DIR="+dataDir, "AGENT_NETWORK="+network,
		"AGENT_IMAGE="+image, "WARDER_AGENT_BINARY="+binary, "WARDER_LOG_LEVEL=warn",
		"AGENT_PORT_RANGE_START=19700", "AGENT_PORT_RANGE_END=19799")
	env = append(env, extraEnv...)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitUp(t, port)
		return cmd
	}
	proc := start()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := apitest.Register(t, base, "root")
	const n = 20
	agents := make([]apitest.Agent, n)
	for i := range agents {
		agents[i] = c.CreateAgent(fmt.Sprintf("agent-%02d", i))
	}
	t.Cleanup(func() { cleanupByName(t, agents, network, dataDir) })
	if pool > 0 {
		waitPoolSize(t, network, pool)
	}
	go apitest.Parallel(n, func(i int) {
		req, _ := http.NewRequest("POST", base+"/api/agents/"+agents[i].ID+"/start", nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	time.Sleep(killAfter)
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()

	proc = start()
	t.Cleanup(func() { proc.Process.Signal(syscall.SIGTERM); proc.Wait() })
	cli := dockerClient(t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var list []apitest.Agent
		c.MustDo("GET", "/api/agents", nil, 200, &list)
		problems := compareWithDocker(t, cli, list, network)
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Every agent can be started now, each on a port of its own.
	apitest.Parallel(n, func(i int) { c.MustDo("POST", "/api/agents/"+agents[i].ID+"/start", nil, 200, nil) })
	var list []apitest.Agent
	c.MustDo("GET", "/api/agents", nil, 200, &list)
	if problems := compareWithDocker(t, cli, list, network); len(problems) > 0 {
		t.Fatalf("after starting all:\n%s", strings.Join(problems, "\n"))
	}
}

// compareWithDocker lists every way the agents disagree with the engine.
func compareWithDocker(t *testing.T, cli *moby.Client, agents []apitest.Agent, network string) []string {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), moby.ContainerListOptions{All: true,
		Filters: moby.Filters{}.Add("label", warder.LabelManaged+"="+network)})
	if err != nil {
		t.Fatal(err)
	}
	containers := map[string]string{} // id -> state
	for _, c := range res.Items {
		if strings.HasPrefix(strings.TrimPrefix(c.Names[0], "/"), docker.PoolPrefix) {
			continue // the warm pool's, nobody's yet
		}
		containers[c.ID] = string(c.State)
	}
	var problems []string
	ports := map[int]string{}
	owned := map[string]bool{}
	for _, a := range agents {
		state, exists := containers[a.ContainerID]
		owned[a.ContainerID] = true
		switch {
		case a.Status == warder.StatusStarting || a.Status == warder.StatusStopping:
			problems = append(problems, a.Name+" is still "+string(a.Status))
		case a.Status == warder.StatusRunning && state != "running":
			problems = append(problems, fmt.Sprintf("%s says running, container %q is %q", a.Name, a.ContainerID, state))
		case a.Status != warder.StatusRunning && state == "running":
			problems = append(problems, fmt.Sprintf("%s says %s, its container runs", a.Name, a.Status))
		case a.ContainerID != "" && !exists && a.Status != warder.StatusMissing:
			problems = append(problems, fmt.Sprintf("%s names container %s, which does not exist", a.Name, a.ContainerID))
		}
		if a.HostPort != nil {
			if other, dup := ports[*a.HostPort]; dup {
				problems = append(problems, fmt.Sprintf("port %d held by %s and %s", *a.HostPort, other, a.Name))
			}
			ports[*a.HostPort] = a.Name
		}
	}
	for id := range containers {
		if !owned[id] {
			problems = append(problems, "orphan container "+id)
		}
	}
	return problems
}

// cleanupByName removes the agents' containers, the warm pool, the
// workspaces and the network by name.
func cleanupByName(t *testing.T, agents []apitest.Agent, network string, dataDir ...string) {
	ctx := context.Background()
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		t.Error(err)
		return
	}
	defer cli.Close()
	for _, a := range agents {
		_, err := cli.ContainerRemove(ctx, warder.ContainerName(a.ID), moby.ContainerRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing %s: %v", warder.ContainerName(a.ID), err)
		}
	}
	// A Warder killed mid-start leaves workspaces, and helpers it made but
	// never ran.
	cfg := docker.Config{Network: network}
	if len(dataDir) > 0 {
		// The killed Warder's workspaces are filesystems mounted under
		// its data directory: removed, they are unmounted too.
		cfg.WorkspaceDir = filepath.Join(dataDir[0], "workspaces")
	}
	if rt, err := docker.New(cfg); err != nil {
		t.Error(err)
	} else {
		if err := rt.RemovePool(ctx); err != nil {
			t.Errorf("removing the warm pool: %v", err)
		}
		if err := rt.RemoveWorkspaces(ctx); err != nil {
			t.Errorf("removing workspaces: %v", err)
		}
		rt.Close()
	}
	if len(dataDir) > 0 {
		// A Warder killed between making a workspace's filesystem and its
		// volume leaves a filesystem no volume names (a restarted Warder
		// removes it once it is 10 minutes old): removed here by name.
		removeFilesystems(t, filepath.Join(dataDir[0], "workspaces"))
	}
	for _, n := range []string{network, docker.InternalNetwork(network)} {
		if _, err := cli.NetworkRemove(ctx, n, moby.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing network %s: %v", n, err)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitUp(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("warder never came up on %d: %v", port, errors.Unwrap(err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDockerUnavailable: with no Docker engine Warder still serves, keeps
// what it stores, and answers container endpoints with a clear 503.
func TestDockerUnavailable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *app.Config) { c.DockerHost = "unix:///nonexistent/docker.sock" })
	c := ts.register(t, "root")
	if status, _ := c.Do("GET", "/healthz", nil); status != 200 {
		t.Fatalf("healthz = %d", status)
	}
	status, raw := c.Do("GET", "/readyz", nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(apitest.DetailOf(t, raw), "Docker is unavailable") {
		t.Fatalf("readyz = %d %s", status, raw)
	}
	a := c.CreateAgent("offline")
	for _, p := range []string{"/start", "/restart"} {
		status, raw := c.Do("POST", "/api/agents/"+a.ID+p, nil)
		if status != http.StatusServiceUnavailable || !strings.Contains(apitest.DetailOf(t, raw), "Docker is unavailable") {
			t.Fatalf("POST %s = %d %s", p, status, raw)
		}
	}
	var got apitest.Agent
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
	if got.Status != "created" {
		t.Fatalf("status after failed starts = %q", got.Status)
	}
	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
}

// removeFilesystems unmounts, detaches and deletes every workspace
// filesystem left in dir.
func removeFilesystems(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err != nil {
		return
	}
	d, err := loopfs.Open(dir)
	if err != nil {
		t.Errorf("opening %s: %v", dir, err)
		return
	}
	names, err := d.Names()
	if err != nil {
		t.Errorf("listing %s: %v", dir, err)
		return
	}
	for _, name := range names {
		if err := d.Remove(name); err != nil {
			t.Errorf("removing workspace filesystem %s: %v", name, err)
		}
	}
}
