package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
)

// statusWithin is how soon a change made behind Warder's back must show.
const statusWithin = 2 * time.Second

// waitStatus polls the agent until check passes or within has passed,
// returning the last agent seen.
func (c *client) waitStatus(id string, within time.Duration, check func(a agentJSON) bool) agentJSON {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var a agentJSON
		c.mustDo("GET", "/api/agents/"+id, nil, 200, &a)
		if check(a) {
			return a
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s agent %s is %s (%q, exit %v, restarts %d)", within, a.Name, a.Status, a.StatusReason, a.ExitCode, a.RestartCount)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func is(s warder.Status) func(agentJSON) bool { return func(a agentJSON) bool { return a.Status == s } }

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

// createWith creates an agent with the given container_config additions.
func (c *client) createWith(name string, cc map[string]any) agentJSON {
	c.t.Helper()
	full := map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}
	for k, v := range cc {
		full[k] = v
	}
	var a agentJSON
	c.mustDo("POST", "/api/agents", map[string]any{"name": name, "container_config": full}, 201, &a)
	return a
}

// TestStatusFollowsDocker: a kill and a removal behind Warder's back show
// within two seconds, and the history says what happened and who did it.
func TestStatusFollowsDocker(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	cli := dockerClient(t)
	ctx := context.Background()
	a := c.createAgent("victim")
	c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.waitStatus(a.ID, statusWithin, is(warder.StatusRunning))

	if _, err := cli.ContainerKill(ctx, a.ContainerID, moby.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	a = c.waitStatus(a.ID, statusWithin, is(warder.StatusExited))
	if a.ExitCode == nil || *a.ExitCode != 137 || !strings.Contains(a.StatusReason, "137") || a.StatusChangedAt == nil {
		t.Fatalf("after docker kill: %+v", a)
	}

	c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.waitStatus(a.ID, statusWithin, is(warder.StatusRunning))
	if _, err := cli.ContainerRemove(ctx, a.ContainerID, moby.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	c.waitStatus(a.ID, statusWithin, is(warder.StatusMissing))

	// Starting a missing agent makes it a new container.
	c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	b := c.waitStatus(a.ID, statusWithin, is(warder.StatusRunning))
	if b.ContainerID == a.ContainerID {
		t.Fatal("a missing agent restarted on its removed container")
	}
	c.mustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	c.waitStatus(a.ID, statusWithin, is(warder.StatusStopped))

	var h struct{ Events []warder.AgentEvent }
	c.mustDo("GET", "/api/agents/"+a.ID+"/events", nil, 200, &h)
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
	other.mustDo("GET", "/api/agents/"+a.ID+"/events", nil, 404, nil)
}

// TestOOMKilled: an agent that outgrows its memory limit ends failed, and
// says why.
func TestOOMKilled(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.createWith("hungry", map[string]any{"memory_limit": "16m", "restart_policy": "no", "env_vars": map[string]string{"WARDER_AGENT_ALLOCATE_MB": "64"}})
	c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.waitStatus(a.ID, 20*time.Second, is(warder.StatusFailed))
	if !strings.Contains(a.StatusReason, "OOMKilled") || a.ExitCode == nil {
		t.Fatalf("after OOM: %+v", a)
	}
}

// TestCrashLoop: an agent that keeps failing under on-failure:3 ends
// reported as a crash loop, with its exit code and restart count.
func TestCrashLoop(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.createWith("crasher", map[string]any{"restart_policy": "on-failure:3",
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.waitStatus(a.ID, 30*time.Second, func(a agentJSON) bool { return a.Status == warder.StatusFailed && a.RestartCount == 3 })
	if !strings.Contains(a.StatusReason, "crash loop") || a.ExitCode == nil || *a.ExitCode != 3 {
		t.Fatalf("after a crash loop: %+v", a)
	}
}

// TestCrashLoopGivenUp: an "unless-stopped" agent in a crash loop is
// reported failed and Docker's restarts end: the container stays stopped
// (kept for its logs) and its host port is free.
func TestCrashLoopGivenUp(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.createWith("looper", map[string]any{"restart_policy": "unless-stopped",
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "4", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.waitStatus(a.ID, 60*time.Second, is(warder.StatusFailed))
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
	c.mustDo("GET", "/api/agents/"+a.ID+"/logs", nil, 200, &logs)
}

// TestIdleAutoStop: an unused agent is stopped after auto_stop_minutes; one
// that is used stays up.
func TestIdleAutoStop(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.IdleInterval = 200 * time.Millisecond })
	c := ts.register(t, "root")
	idle := c.createWith("idle", map[string]any{"auto_stop_minutes": 0.03}) // 1.8 s
	used := c.createWith("used", map[string]any{"auto_stop_minutes": 0.5})
	for _, a := range []agentJSON{idle, used} {
		c.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	}
	a := c.waitStatus(idle.ID, 10*time.Second, is(warder.StatusStopped))
	if !strings.Contains(a.StatusReason, "without use") || a.LastUsedAt == nil {
		t.Fatalf("idle agent: %+v", a)
	}
	c.mustDo("GET", "/api/agents/"+used.ID+"/logs", nil, 200, nil)
	var u agentJSON
	c.mustDo("GET", "/api/agents/"+used.ID, nil, 200, &u)
	if u.Status != warder.StatusRunning || u.LastUsedAt == nil {
		t.Fatalf("used agent: %+v", u)
	}
}
