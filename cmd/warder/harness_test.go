package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/agentbin"
	"github.com/warder/warder/internal/testenv"
)

// shared is the agent binary and image every integration test uses, built
// once per test binary and removed by TestMain.
var shared struct {
	once    sync.Once
	err     error
	binary  string
	image   string
	builder *docker.Runtime
}

// testImage builds the warder-agent binary and an image of it under a
// test-only tag, once.
func testImage(t testing.TB) (image, binary string) {
	t.Helper()
	testenv.Docker(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "warder-test-agent-")
		if err != nil {
			shared.err = err
			return
		}
		if shared.binary, shared.err = agentbin.Build(ctx, dir); shared.err != nil {
			return
		}
		if shared.builder, shared.err = docker.New(docker.Config{}); shared.err != nil {
			return
		}
		tag := testenv.UniqueName("warder-test/agent:t")
		if shared.err = shared.builder.BuildAgentImage(ctx, tag, shared.binary); shared.err == nil {
			shared.image = tag
		}
	})
	if shared.err != nil {
		t.Fatalf("building the test agent image: %v", shared.err)
	}
	return shared.image, shared.binary
}

// testServer is a real Warder: real store, real Docker, real HTTP.
type testServer struct {
	*httptest.Server
	app  *app
	cfg  config
	logs *syncBuffer // everything Warder logged
	// stop ends the app's background work, as a shutdown does.
	stop context.CancelFunc
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestServer starts Warder on a fresh SQLite database and a network of
// its own; change adjusts the configuration first. Every container and the
// network it made are removed by exact name when the test ends.
func newTestServer(t testing.TB, change func(*config)) *testServer {
	t.Helper()
	image, binary := testImage(t)
	cfg := config{
		DataDir:        t.TempDir(),
		Network:        testenv.UniqueName("warder-test-net-"),
		Image:          image,
		AgentBinary:    binary,
		PortStart:      19000,
		PortEnd:        19499,
		BindAddress:    "127.0.0.1",
		TokenTTL:       time.Hour,
		StopTimeout:    5 * time.Second,
		StartTimeout:   time.Minute,
		IdleInterval:   time.Second,
		LogFormat:      "text",
		DefaultNetwork: "egress",
		AllowEgress:    true,
		LogLevel:       "warn",
	}
	if change != nil {
		change(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := &syncBuffer{}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	ts := &testServer{Server: httptest.NewServer(a.handler), app: a, cfg: cfg, logs: logs, stop: stop}
	a.run(runCtx, log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Warder's log:\n%s", logs.String())
		}
	})
	t.Cleanup(func() {
		stop()
		a.handler.CloseStreams() // ts.Close waits for every response to end
		ts.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		agents, err := a.store.ListAgents(cctx, warder.AgentFilter{})
		if err != nil {
			t.Errorf("cleanup: listing agents: %v", err)
		}
		for _, ag := range agents {
			if err := a.runtime.Remove(cctx, warder.ContainerName(ag.ID)); err != nil && !errors.Is(err, warder.ErrUnavailable) {
				t.Errorf("cleanup: removing container of %s: %v", ag.ID, err)
			}
		}
		// A server pointed at no Docker made nothing to remove.
		for _, n := range []string{cfg.Network, docker.InternalNetwork(cfg.Network)} {
			if err := a.runtime.(*docker.Runtime).RemoveNetwork(cctx, n); err != nil && !errors.Is(err, warder.ErrUnavailable) {
				t.Errorf("cleanup: removing network %s: %v", n, err)
			}
		}
		a.Close()
	})
	return ts
}

// client is one signed-in user talking to a test server.
type client struct {
	t      *testing.T
	base   string
	token  string
	userID string
}

// register creates a user on the test server and logs in.
func (ts *testServer) register(t *testing.T, name string) *client {
	t.Helper()
	return registerAt(t, ts.URL, name)
}

// registerAt creates a user on the Warder at base and logs in.
func registerAt(t *testing.T, base, name string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	var u warder.User
	c.mustDo("POST", "/api/auth/register", map[string]string{"username": name, "email": name + "@example.com", "password": "password-" + name}, 201, &u)
	c.userID = u.ID
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.mustDo("POST", "/api/auth/login", map[string]string{"username": name, "password": "password-" + name}, 200, &tok)
	c.token = tok.AccessToken
	return c
}

// do sends a request; body may be nil, a string (sent raw) or a value
// (sent as JSON). It returns the status and the raw body.
func (c *client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// mustDo is do that fails the test unless the status is want, and decodes
// the body into out when out is not nil.
func (c *client) mustDo(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, raw := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
}

// waitLogs reads the agent's logs (the last 1000 lines) until they hold
// want, failing the test after within: the engine writes a container's
// output to its log asynchronously, so a line the agent wrote before it
// answered may not be there yet.
func (c *client) waitLogs(agentID, want string, within time.Duration) string {
	c.t.Helper()
	var logs struct{ Logs string }
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		c.mustDo("GET", "/api/agents/"+agentID+"/logs?lines=1000", nil, 200, &logs)
		if strings.Contains(logs.Logs, want) {
			return logs.Logs
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("agent logs lack %q after %s:\n%s", want, within, logs.Logs)
		}
	}
}

// agentJSON is an agent as the API returns it.
type agentJSON struct {
	warder.Agent
	HostPort        *int       `json:"host_port"`
	StatusChangedAt *time.Time `json:"status_changed_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
}

// createAgent creates an agent with small limits, returning it.
func (c *client) createAgent(name string) agentJSON {
	c.t.Helper()
	var a agentJSON
	c.mustDo("POST", "/api/agents", map[string]any{
		"name":             name,
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25},
	}, 201, &a)
	return a
}

// tokenForm logs in through the OAuth2 password form.
func tokenForm(t *testing.T, base, user, pass string) (int, []byte) {
	t.Helper()
	resp, err := http.PostForm(base+"/api/auth/token", url.Values{"username": {user}, "password": {pass}, "grant_type": {"password"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// detailOf returns the "detail" of an error body, failing if there is none.
func detailOf(t *testing.T, raw []byte) string {
	t.Helper()
	var d struct{ Detail *string }
	if err := json.Unmarshal(raw, &d); err != nil || d.Detail == nil || *d.Detail == "" {
		t.Fatalf("body %s has no {\"detail\": ...}", raw)
	}
	return *d.Detail
}
