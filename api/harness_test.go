package api_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
)

// apiServer is a real Warder in-process (apitest.Server: wired as
// cmd/warder wires it, on a fresh SQLite database) whose runtime is the
// conformance-checked in-memory fake: every HTTP rule, no engine. Agents
// start and stop in the fake; nothing listens on their ports, so what
// needs an agent to answer (chat, the proxy, live logs of a real process)
// is e2e's.
type apiServer struct {
	*apitest.Server
	Runtime *runtimetest.Fake
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
	cfg := apitest.Config(t)
	cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", 20300, 20799
	for _, o := range opts {
		o(&cfg)
	}
	var fake *runtimetest.Fake
	s := apitest.Start(t, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		fake = runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)
		return fakeBackend{fake}, nil
	}, nil)
	return &apiServer{Server: s, Runtime: fake}
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
