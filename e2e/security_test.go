package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestHardenedContainer: a started agent's container carries every
// hardening setting, as docker inspect shows it.
func TestHardenedContainer(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.CreateAgent("hardened")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	waitHealthy(t, *a.HostPort) // it still works with all of the below
	h := inspectHost(t, a.ContainerID)
	checks := []struct {
		what string
		ok   bool
	}{
		{"all capabilities dropped", len(h.CapDrop) == 1 && h.CapDrop[0] == "ALL" && len(h.CapAdd) == 0},
		{"no-new-privileges", len(h.SecurityOpt) == 1 && h.SecurityOpt[0] == "no-new-privileges"},
		{"pids limit", h.PidsLimit != nil && *h.PidsLimit == 256},
		{"read-only root filesystem", h.ReadonlyRootfs},
		{"tmpfs /tmp", strings.Contains(h.Tmpfs["/tmp"], "size=64m") && strings.Contains(h.Tmpfs["/tmp"], "noexec")},
		{"swap equals memory", h.MemorySwap == h.Memory && h.Memory == 32<<20},
		{"not privileged", !h.Privileged},
		{"not on the host network", h.NetworkMode != "host" && h.NetworkMode == ts.Config.Network},
		{"no host mounts: one mount, the agent's own workspace volume at /data", len(h.Binds) == 0 && onlyWorkspace(h.Mounts, a.ID)},
		{"no devices", len(h.Devices) == 0},
		{"no host namespaces", h.PidMode == "" && h.IpcMode != "host" && h.UTSMode == ""},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: not so in %+v", ch.what, h)
		}
	}
	if user := inspectUser(t, a.ContainerID); user != "65534:65534" {
		t.Errorf("container user = %q, want the non-root 65534:65534", user)
	}
}

// onlyWorkspace reports whether mounts are exactly the agent's workspace:
// a named volume (never a host path) at /data.
func onlyWorkspace(mounts []any, agentID string) bool {
	if len(mounts) != 1 {
		return false
	}
	m, _ := mounts[0].(map[string]any)
	return m["Type"] == "volume" && m["Source"] == warder.WorkspaceName(agentID) && m["Target"] == warder.WorkspaceMountPath && m["ReadOnly"] == nil
}

// hostConfig is the part of docker inspect the hardening test reads.
type hostConfig struct {
	CapDrop, CapAdd, SecurityOpt, Binds []string
	PidsLimit                           *int64
	ReadonlyRootfs, Privileged          bool
	Tmpfs                               map[string]string
	Memory, MemorySwap                  int64
	NetworkMode, PidMode, IpcMode       string
	UTSMode                             string
	Mounts, Devices                     []any
}

func inspectRaw(t *testing.T, id string) map[string]json.RawMessage {
	t.Helper()
	cli := dockerClient(t)
	res, err := cli.ContainerInspect(context.Background(), id, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res.Container)
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	return m
}

func inspectHost(t *testing.T, id string) hostConfig {
	var h hostConfig
	if err := json.Unmarshal(inspectRaw(t, id)["HostConfig"], &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func inspectUser(t *testing.T, id string) string {
	var c struct{ User string }
	json.Unmarshal(inspectRaw(t, id)["Config"], &c)
	return c.User
}

func inspectEnv(t *testing.T, id string) []string {
	var c struct{ Env []string }
	json.Unmarshal(inspectRaw(t, id)["Config"], &c)
	return c.Env
}

// TestSecretEnv: a secret reaches the container and nothing else: no
// response, no log line, not the database file.
func TestSecretEnv(t *testing.T) {
	t.Parallel()
	const value = "sk-this-must-never-leak-4c1d"
	ts := newTestServer(t, func(c *app.Config) { c.LogLevel = "debug" })
	c := ts.register(t, "root")
	var responses bytes.Buffer
	keep := func(raw []byte) { responses.Write(raw) }

	status, raw := c.Do("POST", "/api/agents", map[string]any{"name": "secretive", "container_config": map[string]any{
		"env_vars": map[string]string{"PLAIN": "visible"}, "secret_env": map[string]string{"API_KEY": value}}})
	keep(raw)
	if status != 201 || !strings.Contains(string(raw), `"secret_env_names":["API_KEY"]`) {
		t.Fatalf("create = %d %s", status, raw)
	}
	var a apitest.Agent
	json.Unmarshal(raw, &a)
	for _, path := range []string{"/api/agents/" + a.ID, "/api/agents", "/api/agents/" + a.ID + "/events"} {
		_, raw := c.Do("GET", path, nil)
		keep(raw)
	}
	_, raw = c.Do("POST", "/api/agents/"+a.ID+"/start", nil)
	keep(raw)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	_, raw = c.Do("GET", "/api/agents/"+a.ID+"/logs", nil)
	keep(raw)
	// An edit that leaves secret_env out keeps the secret.
	_, raw = c.Do("PUT", "/api/agents/"+a.ID, map[string]any{"name": "secretive", "description": "edited",
		"container_config": map[string]any{"memory_limit": "32m"}})
	keep(raw)
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	_, raw = c.Do("PUT", "/api/agents/"+a.ID, map[string]any{"name": "secretive", "description": "edited",
		"container_config": map[string]any{"memory_limit": "64m"}})
	keep(raw)
	if !strings.Contains(string(raw), `"secret_env_names":["API_KEY"]`) {
		t.Fatalf("PUT without secret_env: %s", raw)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)

	if !strings.Contains(strings.Join(inspectEnv(t, a.ContainerID), "\n"), "API_KEY="+value) {
		t.Fatal("the container does not see the secret")
	}
	if strings.Contains(responses.String(), value) {
		t.Fatal("a response contains the secret")
	}
	if strings.Contains(ts.Logs.String(), value) {
		t.Fatal("Warder's log contains the secret")
	}
	// Every file Warder keeps, at any depth (the database, its log, the
	// snapshot store's directory, uploads waiting).
	err := filepath.WalkDir(ts.Config.DataDir, func(f string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(value)) {
			t.Errorf("%s holds the secret in clear text", f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(ts.Config.DataDir, "secret.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v %v", info, err)
	}
}
