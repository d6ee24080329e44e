package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestSeedWalkthrough is the seed document's manual test, step by step,
// plus what each step must have done to the real container.
func TestSeedWalkthrough(t *testing.T) {
	t.Parallel()
	seedWalkthrough(t, newTestServer(t, nil))
}

// seedWalkthrough runs the walk-through against ts.
func seedWalkthrough(t *testing.T, ts *testServer) {
	ts.register(t, "root") // the first user is the admin; the walk-through is a plain user's
	c := ts.register(t, "alice")

	if status, raw := apitest.TokenForm(t, ts.URL, "alice@example.com", "password-alice"); status != 200 || !strings.Contains(string(raw), `"token_type":"bearer"`) {
		t.Fatalf("token form = %d %s", status, raw)
	}
	var me map[string]any
	c.MustDo("GET", "/api/auth/me", nil, 200, &me)
	if me["username"] != "alice" || me["role"] != "user" || me["id"] != c.UserID || me["password_hash"] != nil {
		t.Fatalf("me = %v", me)
	}

	// 1. Create an agent with the seed's exact body, at the seed's exact path.
	body := fmt.Sprintf(`{
	  "name": "Test Container Agent",
	  "description": "Agent for testing container management",
	  "type": "chat",
	  "user_id": %q,
	  "config": {"model": "gpt-3.5-turbo"},
	  "container_config": {
	    "image": %q,
	    "memory_limit": "512m",
	    "cpu_limit": 0.5,
	    "env_vars": {"TEST_VAR": "test_value"}
	  }
	}`, c.UserID, ts.Config.Image)
	var a apitest.Agent
	c.MustDo("POST", "/api/agents/", body, 201, &a)
	if a.Name != "Test Container Agent" || a.UserID != c.UserID || a.Status != warder.StatusCreated || a.Config["model"] != "gpt-3.5-turbo" || a.HostPort != nil {
		t.Fatalf("created agent = %+v", a)
	}

	// 2. Start it.
	var msg map[string]string
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, &msg)
	if msg["message"] != "Agent container started successfully" {
		t.Fatalf("start = %v", msg)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil) // starting a running agent succeeds
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusRunning || a.ContainerID == "" || a.ContainerName == "" || a.ContainerStatus != "running" || a.HostPort == nil {
		t.Fatalf("started agent = %+v", a)
	}
	if *a.HostPort < ts.Config.PortStart || *a.HostPort > ts.Config.PortEnd {
		t.Fatalf("host port %d outside %d-%d", *a.HostPort, ts.Config.PortStart, ts.Config.PortEnd)
	}
	assertContainer(t, a, ts.Config)
	waitHealthy(t, *a.HostPort)

	// 3. Logs hold the agent's start-up line, naming the env var it got.
	var logs struct{ Logs string }
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.Logs, "warder-agent starting") && time.Now().Before(deadline) {
		c.MustDo("GET", "/api/agents/"+a.ID+"/logs", nil, 200, &logs)
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.Logs, "warder-agent starting") || !strings.Contains(logs.Logs, "TEST_VAR") {
		t.Fatalf("logs lack the start-up line: %q", logs.Logs)
	}
	if strings.Contains(logs.Logs, "test_value") {
		t.Fatalf("logs echo an env value: %q", logs.Logs)
	}
	c.MustDo("GET", "/api/agents/"+a.ID+"/logs?lines=1", nil, 200, &logs)
	if n := strings.Count(strings.TrimSpace(logs.Logs), "\n"); n != 0 {
		t.Fatalf("lines=1 gave %d lines: %q", n+1, logs.Logs)
	}

	// 4. Stats carry real figures, as strings and numbers.
	var stats struct{ Stats map[string]any }
	c.MustDo("GET", "/api/agents/"+a.ID+"/stats", nil, 200, &stats)
	s := stats.Stats
	if cpu, _ := s["cpu_usage"].(string); !strings.HasSuffix(cpu, "%") {
		t.Fatalf("cpu_usage = %v", s["cpu_usage"])
	}
	if mem, _ := s["memory_usage"].(string); !strings.HasSuffix(mem, "B") {
		t.Fatalf("memory_usage = %v", s["memory_usage"])
	}
	if s["memory_bytes"].(float64) <= 0 || s["memory_limit_bytes"].(float64) != 512<<20 || s["pids"].(float64) < 1 {
		t.Fatalf("stats numbers = %v", s)
	}
	if _, ok := s["cpu_percent"].(float64); !ok {
		t.Fatalf("cpu_percent missing: %v", s)
	}

	// 5. Stop it; restart works too.
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, &msg)
	if msg["message"] != "Agent container stopped successfully" {
		t.Fatalf("stop = %v", msg)
	}
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusStopped || a.ContainerStatus != "exited" {
		t.Fatalf("stopped agent = %+v", a)
	}
	status, raw := c.Do("GET", "/api/agents/"+a.ID+"/stats", nil)
	if status != http.StatusConflict || !strings.Contains(apitest.DetailOf(t, raw), "not running") {
		t.Fatalf("stats of a stopped agent = %d %s", status, raw)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/restart", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusRunning {
		t.Fatalf("restarted agent = %+v", a)
	}

	// Delete: the container is really gone and the port is free again.
	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	if _, err := ts.App.Runtime().Inspect(context.Background(), a.ContainerID); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("container after delete: %v", err)
	}
	if ports, _ := ts.App.Store().UsedPorts(context.Background()); len(ports) != 0 {
		t.Fatalf("ports still held after delete: %v", ports)
	}
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 404, nil)
}

// assertContainer checks the real container against what the agent says.
func assertContainer(t *testing.T, a apitest.Agent, cfg app.Config) {
	t.Helper()
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerInspect(context.Background(), a.ContainerID, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res.Container)
	var c struct {
		Name   string
		Config struct {
			Image  string
			Env    []string
			Labels map[string]string
		}
		HostConfig struct {
			Memory       int64
			NanoCpus     int64
			NetworkMode  string
			PortBindings map[string][]struct{ HostIp, HostPort string }
		}
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "/"+warder.ContainerName(a.ID) || c.Name != "/"+a.ContainerName {
		t.Errorf("container name %q, agent says %q", c.Name, a.ContainerName)
	}
	want := map[string]string{warder.LabelAgentID: a.ID, warder.LabelAgentName: a.Name, warder.LabelUserID: a.UserID}
	for k, v := range want {
		if c.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Config.Labels[k], v)
		}
	}
	env := strings.Join(c.Config.Env, "\n")
	for _, kv := range []string{"TEST_VAR=test_value", "AGENT_ID=" + a.ID, "AGENT_NAME=" + a.Name, "AGENT_TYPE=chat"} {
		if !strings.Contains(env, kv) {
			t.Errorf("env lacks %s: %v", kv, c.Config.Env)
		}
	}
	if c.HostConfig.Memory != 512<<20 || c.HostConfig.NanoCpus != 500_000_000 || c.HostConfig.NetworkMode != cfg.Network {
		t.Errorf("host config = %+v", c.HostConfig)
	}
	b := c.HostConfig.PortBindings["8000/tcp"]
	if len(b) != 1 || b[0].HostIp != "127.0.0.1" || b[0].HostPort != fmt.Sprint(*a.HostPort) {
		t.Errorf("port bindings = %+v, want 127.0.0.1:%d", c.HostConfig.PortBindings, *a.HostPort)
	}
}

// waitHealthy polls the agent's /health through its published port.
func waitHealthy(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent on port %d never became healthy: %v", port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
