package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// statusWithin is how soon a change made behind Warder's back must show.
const statusWithin = 2 * time.Second

// dockerClient is a plain Engine API client: the test acting behind
// Warder's back.
func dockerClient(t *testing.T) *moby.Client {
	t.Helper()
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestStatusFollowsDocker: a kill and a removal behind Warder's back show
// within two seconds, and the history says what happened and who did it.
func TestStatusFollowsDocker(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	cli := dockerClient(t)
	ctx := context.Background()
	a := c.CreateAgent("victim")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))

	if _, err := cli.ContainerKill(ctx, a.ContainerID, moby.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	a = c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusExited))
	if a.ExitCode == nil || *a.ExitCode != 137 || !strings.Contains(a.StatusReason, "137") || a.StatusChangedAt == nil {
		t.Fatalf("after docker kill: %+v", a)
	}

	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))
	if _, err := cli.ContainerRemove(ctx, a.ContainerID, moby.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusMissing))

	// Starting a missing agent makes it a new container.
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	b := c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))
	if b.ContainerID == a.ContainerID {
		t.Fatal("a missing agent restarted on its removed container")
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	c.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusStopped))

	var h struct{ Events []warder.AgentEvent }
	c.MustDo("GET", "/api/agents/"+a.ID+"/events", nil, 200, &h)
	var trail []string
	for _, e := range h.Events {
		trail = append(trail, fmt.Sprintf("%s>%s by %s", e.From, e.To, e.Actor))
	}
	got := strings.Join(trail, ", ")
	for _, want := range []string{"running>exited by docker", ">missing by docker", "stopping>stopped by user:root", "created>starting by user:root"} {
		if !strings.Contains(got, want) {
			t.Errorf("history lacks %q: %s", want, got)
		}
	}
	other := ts.register(t, "other")
	other.MustDo("GET", "/api/agents/"+a.ID+"/events", nil, 404, nil)
}

// TestOOMKilled: an agent that outgrows its memory limit ends failed, and
// says why.
func TestOOMKilled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.CreateWith("hungry", map[string]any{"memory_limit": "16m", "restart_policy": "no", "env_vars": map[string]string{"WARDER_AGENT_ALLOCATE_MB": "64"}})
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, 20*time.Second, apitest.Is(warder.StatusFailed))
	if !strings.Contains(a.StatusReason, "OOMKilled") || a.ExitCode == nil {
		t.Fatalf("after OOM: %+v", a)
	}
}

// TestCrashLoop: an agent that keeps failing under on-failure:3 ends
// reported as a crash loop, with its exit code and restart count.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.CreateWith("crasher", map[string]any{"restart_policy": "on-failure:3",
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, 30*time.Second, func(a apitest.Agent) bool { return a.Status == warder.StatusFailed && a.RestartCount == 3 })
	if !strings.Contains(a.StatusReason, "crash loop") || a.ExitCode == nil || *a.ExitCode != 3 {
		t.Fatalf("after a crash loop: %+v", a)
	}
}

// TestCrashLoopGivenUp: an "unless-stopped" agent in a crash loop is
// reported failed and Docker's restarts end: the container stays stopped
// (kept for its logs) and its host port is free.
func TestCrashLoopGivenUp(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.CreateWith("looper", map[string]any{"restart_policy": "unless-stopped",
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "4", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, 60*time.Second, apitest.Is(warder.StatusFailed))
	if !strings.Contains(a.StatusReason, "crash loop") {
		t.Fatalf("after a crash loop: %+v", a)
	}
	cli := dockerClient(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := cli.ContainerInspect(context.Background(), a.ContainerID, moby.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := res.Container.State
		if !st.Running && !st.Restarting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Docker still restarts the failed agent: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// It stays down: no restart happens after the give-up.
	time.Sleep(2 * time.Second)
	res, err := cli.ContainerInspect(context.Background(), a.ContainerID, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Container.State; st.Running || st.Restarting {
		t.Fatalf("the failed agent was restarted after being given up: %+v", st)
	}
	var logs map[string]any
	c.MustDo("GET", "/api/agents/"+a.ID+"/logs", nil, 200, &logs)
}

// TestIdleAutoStop: an unused agent is stopped after auto_stop_minutes; one
// that is used stays up.
func TestIdleAutoStop(t *testing.T) {
	ts := newTestServer(t, func(c *app.Config) { c.IdleInterval = 200 * time.Millisecond })
	c := ts.register(t, "root")
	idle := c.CreateWith("idle", map[string]any{"auto_stop_minutes": 0.03}) // 1.8 s
	used := c.CreateWith("used", map[string]any{"auto_stop_minutes": 5})
	for _, a := range []apitest.Agent{idle, used} {
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	}
	a := c.WaitStatus(idle.ID, 60*time.Second, apitest.Is(warder.StatusStopped))
	// A start is no use of its own: the start's change of status is
	// what the idle clock counts from (docs: auto_stop_minutes).
	if !strings.Contains(a.StatusReason, "without use") {
		t.Fatalf("idle agent: %+v", a)
	}
	c.MustDo("GET", "/api/agents/"+used.ID+"/logs", nil, 200, nil)
	var u apitest.Agent
	c.MustDo("GET", "/api/agents/"+used.ID, nil, 200, &u)
	if u.Status != warder.StatusRunning || u.LastUsedAt == nil {
		t.Fatalf("used agent: %+v", u)
	}
}
