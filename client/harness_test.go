package client_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/api"
	"github.com/warder/warder/broker"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/openapitest"
	"github.com/warder/warder/service"
	"github.com/warder/warder/sqlstore"
	"github.com/warder/warder/stats"
	"github.com/warder/warder/wire"
)

// server is the real API and service on SQLite and the
// conformance-checked fake runtime: no Docker. Agents answer chats
// through echoAgents.
type server struct {
	*httptest.Server
	Runtime *runtimetest.Fake
	Handler *api.Server
	Bus     *broker.Broker
	// Checker checks every answer clients of New get against the
	// server's OpenAPI document; the test fails on any mismatch.
	Checker *openapitest.Transport
}

// waitSubscribed waits until n event streams are subscribed: a change
// published before would not reach them.
func (s *server) waitSubscribed(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Bus.Subscribers() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d event streams subscribed after 10 s, want %d", s.Bus.Subscribers(), n)
		}
	}
}

// New is a client of the server whose answers are checked.
func (s *server) New(token string) *client.Client {
	return client.New(s.URL, token, client.WithHTTPClient(&http.Client{Transport: s.Checker}))
}

// newServer starts a server; opts adjusts the API's options (CORS, ...).
// Everything is closed when the test ends.
func newServer(tb testing.TB, opts func(*api.Options)) *server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlstore.OpenSQLite(ctx, tb.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		tb.Fatal(err)
	}
	rt := runtimetest.NewFake(db, 20100, 20199)
	bus := broker.New(0)
	collector := stats.New(rt, bus, stats.Config{Interval: 50 * time.Millisecond, SyncEvery: 100 * time.Millisecond})
	log := slog.New(slog.DiscardHandler)
	svc := service.New(api.AuditStatuses(db), rt, service.Config{
		ExclusiveStore: true,
		Logger:         log,
		Agents:         echoAgents{},
		Events:         bus,
		Auth:           service.AuthConfig{HashWorkers: 2},
		Lifecycle:      service.AgentsConfig{DefaultImage: "warder/agent:latest", Spec: warder.SpecSettings{Network: "net", Workspaces: true}},
		Observe:        service.ObserveConfig{Stats: collector},
	})
	o := api.Options{Auth: svc.Auth, Agents: svc.Agents, Observe: svc.Observe, Keys: svc.Auth, Admin: svc.Admin, Chat: svc.Chat, Audit: svc.Admin, Logger: log, Workspaces: svc.Files,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("up 1\n")) })}
	if opts != nil {
		opts(&o)
	}
	h := api.New(o)
	var wg sync.WaitGroup
	wg.Go(func() { svc.Watch(ctx) })
	wg.Go(func() { collector.Run(ctx) })
	s := &server{Server: httptest.NewServer(h), Runtime: rt, Handler: h, Bus: bus}
	tb.Cleanup(func() {
		for _, p := range s.Checker.Problems() {
			tb.Errorf("an answer does not fit the OpenAPI document: %s", p)
		}
	})
	doc, err := client.New(s.URL, "").OpenAPI(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	checked, err := openapitest.Load(doc)
	if err != nil {
		tb.Fatal(err)
	}
	s.Checker = &openapitest.Transport{Doc: checked}
	tb.Cleanup(func() {
		h.CloseStreams()
		s.Close()
		cancel()
		wg.Wait()
		db.Close()
	})
	return s
}

// echoAgents stands for agents' HTTP ports: every agent is healthy and
// answers "echo: " and the message, streamed word by word.
type echoAgents struct{}

func (echoAgents) Health(context.Context, *url.URL) error { return nil }

func (echoAgents) Chat(_ context.Context, _ *url.URL, msg warder.AgentChat, onDelta func(string) error) (warder.AgentAnswer, error) {
	answer := "echo: " + msg.Content
	if onDelta != nil {
		for i, w := range strings.Fields(answer) {
			if i > 0 {
				w = " " + w
			}
			if err := onDelta(w); err != nil {
				return warder.AgentAnswer{}, err
			}
		}
	}
	return warder.AgentAnswer{Content: answer, Model: "echo-1"}, nil
}

// mustSignIn registers name (the first user is the admin) and returns a
// client signed in as them.
func mustSignIn(tb testing.TB, s *server, name string) (*client.Client, *wire.User) {
	tb.Helper()
	ctx := context.Background()
	anon := s.New("")
	u, err := anon.Register(ctx, wire.RegisterRequest{Username: name, Email: name + "@example.com", Password: "correct horse"})
	if err != nil {
		tb.Fatalf("register %s: %v", name, err)
	}
	tok, err := anon.Login(ctx, name, "correct horse")
	if err != nil {
		tb.Fatalf("login %s: %v", name, err)
	}
	return anon.WithToken(tok.AccessToken), u
}

// res is a call's result, for try(call()).must(t).
type res[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) res[T] { return res[T]{v, err} }

// must returns the result, or fails the test with its error.
func (r res[T]) must(tb testing.TB) T {
	tb.Helper()
	if r.err != nil {
		tb.Fatal(r.err)
	}
	return r.v
}
