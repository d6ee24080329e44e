package e2etest

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/apitest"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testenv"
)

// Server is a real Warder: real store, real Docker, real HTTP.
type Server struct {
	*httptest.Server
	App    *app.App
	Config app.Config
	// Logs is everything Warder logged.
	Logs *apitest.Buffer
	// Stop ends the app's background work, as a shutdown does.
	Stop context.CancelFunc
}

// portBlocks hands out host port ranges: each server gets 500 ports of
// its own, from 20 blocks in 22000-31999 (above the docker package's
// tests, below the kernel's ephemeral ports), so servers of tests that
// run in parallel never publish one port twice. Blocks are reused in
// turn; far fewer than 20 servers are alive at once.
var portBlocks atomic.Int64

// NewServer starts Warder on a fresh SQLite database, the test agent
// image, a network and a host port range of its own; change adjusts the
// configuration first.
// When the test ends every agent's container and the networks are removed
// by exact name, and the app is closed; if the test failed, Warder's log
// is printed.
func NewServer(tb testing.TB, change func(*app.Config)) *Server {
	tb.Helper()
	image, binary := AgentImage(tb)
	block := 22000 + 500*int(portBlocks.Add(1)%20)
	cfg := app.Config{
		DataDir:        tb.TempDir(),
		Network:        testenv.UniqueName("warder-test-net-"),
		Image:          image,
		AgentBinary:    binary,
		PortStart:      block,
		PortEnd:        block + 499,
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
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	logs := &apitest.Buffer{}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	s := &Server{Server: httptest.NewServer(a.Handler()), App: a, Config: cfg, Logs: logs, Stop: stop}
	a.Run(runCtx)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("Warder's log:\n%s", logs.String())
		}
	})
	tb.Cleanup(func() {
		stop()
		a.Handler().CloseStreams() // Close waits for every response to end
		s.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		agents, err := a.Store().ListAgents(cctx, warder.AgentFilter{})
		if err != nil {
			tb.Errorf("cleanup: listing agents: %v", err)
		}
		for _, ag := range agents {
			if err := a.Runtime().Remove(cctx, warder.ContainerName(ag.ID)); err != nil && !errors.Is(err, warder.ErrUnavailable) {
				tb.Errorf("cleanup: removing container of %s: %v", ag.ID, err)
			}
		}
		// A server pointed at no Docker made nothing to remove.
		for _, n := range []string{cfg.Network, docker.InternalNetwork(cfg.Network)} {
			if err := a.Runtime().(*docker.Runtime).RemoveNetwork(cctx, n); err != nil && !errors.Is(err, warder.ErrUnavailable) {
				tb.Errorf("cleanup: removing network %s: %v", n, err)
			}
		}
		a.Close()
	})
	return s
}
