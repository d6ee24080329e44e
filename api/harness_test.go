package api_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/apitest"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
)

// apiServer is a real Warder in-process, wired as cmd/warder wires it
// (internal/app: the service, the API, metrics, the background work) on a
// fresh SQLite database, whose runtime is the conformance-checked
// in-memory fake: every HTTP rule, no engine. Agents start and stop in
// the fake; nothing listens on their ports, so what needs an agent to
// answer (chat, the proxy, live logs of a real process) is e2e's.
type apiServer struct {
	*httptest.Server
	App     *app.App
	Config  app.Config
	Runtime *runtimetest.Fake
	// Logs is everything Warder logged.
	Logs *apitest.Buffer
}

// statusWithin is how soon a status change must show.
const statusWithin = 2 * time.Second

// fakeBackend is the fake as app holds a runtime: nothing to release.
type fakeBackend struct{ *runtimetest.Fake }

func (fakeBackend) Close() error { return nil }

// newAPIServer starts an apiServer; each option adjusts the configuration
// (quotas, registration, ...) before it starts. Everything is closed when
// the test ends, and Warder's log printed if the test failed.
func newAPIServer(t *testing.T, opts ...func(*app.Config)) *apiServer {
	t.Helper()
	cfg := app.Config{
		DataDir:        t.TempDir(),
		Network:        "fake-net",
		Image:          "warder/agent:latest",
		PortStart:      30000,
		PortEnd:        30499,
		BindAddress:    "127.0.0.1",
		TokenTTL:       time.Hour,
		StopTimeout:    5 * time.Second,
		StartTimeout:   time.Minute,
		IdleInterval:   time.Second,
		LogFormat:      "text",
		LogLevel:       "warn",
		DefaultNetwork: warder.NetworkEgress,
		AllowEgress:    true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &apitest.Buffer{}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	var fake *runtimetest.Fake
	a, err := app.NewWithRuntime(context.Background(), cfg, log, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		fake = runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)
		return fakeBackend{fake}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &apiServer{Server: httptest.NewServer(a.Handler()), App: a, Config: cfg, Runtime: fake, Logs: logs}
	a.Run(ctx)
	t.Cleanup(func() {
		stop()
		a.Handler().CloseStreams() // Close waits for every response to end
		s.Close()
		a.Close()
		if t.Failed() {
			t.Logf("Warder's log:\n%s", logs.String())
		}
	})
	return s
}

// register creates a user on the server and logs in; the first user of
// a server is its admin.
func (s *apiServer) register(t *testing.T, name string) *apitest.Client {
	t.Helper()
	return apitest.Register(t, s.URL, name)
}

// anon is a client with no credentials.
func (s *apiServer) anon(t *testing.T) *apitest.Client {
	return &apitest.Client{T: t, Base: s.URL}
}

// as is a client using token, which may be an API key or nothing at all.
func (s *apiServer) as(t *testing.T, token string) *apitest.Client {
	return &apitest.Client{T: t, Base: s.URL, Token: token}
}

// TestAPIServer: the harness serves, its first user is the admin, and an
// agent starts and stops in the fake runtime.
func TestAPIServer(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	root := s.register(t, "root")
	var me warder.User
	root.MustDo("GET", "/api/auth/me", nil, 200, &me)
	if me.Role != warder.RoleAdmin {
		t.Fatalf("first user = %+v", me)
	}
	a := root.CreateAgent("first")
	root.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	got := root.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))
	if got.HostPort == nil || *got.HostPort < s.Config.PortStart || s.Runtime.Count() != 1 {
		t.Fatalf("started agent %+v, %d workloads", got, s.Runtime.Count())
	}
	root.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	root.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusStopped))
	if status, _ := s.anon(t).Do("GET", "/api/agents", nil); status != 401 {
		t.Fatalf("no token = %d", status)
	}
	if status, _ := s.as(t, "wdr_forged").Do("GET", "/api/agents", nil); status != 401 {
		t.Fatalf("forged token = %d", status)
	}
}
