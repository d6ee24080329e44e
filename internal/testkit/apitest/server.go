package apitest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
)

// Server is a real Warder in-process, wired as cmd/warder wires it
// (internal/app), behind an httptest server.
type Server struct {
	*httptest.Server
	App    *app.App
	Config app.Config
	// Logs is everything Warder logged.
	Logs *Buffer
	// Stop ends the app's background work, as a shutdown does.
	Stop context.CancelFunc
}

// Config is what a test server's configuration starts from: a data
// directory of its own, short timeouts, the default image, egress
// allowed, logs at warn. The caller adds the runtime's side (network,
// image, host ports).
func Config(tb testing.TB) app.Config {
	return app.Config{
		DataDir:        tb.TempDir(),
		Image:          "warder/agent:latest",
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
}

// Start validates cfg and starts Warder with it, on the runtime open
// returns (nil: the one cfg.Runtime names), and its background work.
// When the test ends the background work is stopped, streams ended, the
// HTTP server closed, then release (if not nil) is given the app while
// its runtime and store are open, and the app is closed; if the test
// failed, Warder's log is printed.
func Start(tb testing.TB, cfg app.Config, open app.Opener, release func(*app.App)) *Server {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	logs := &Buffer{}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	var a *app.App
	var err error
	if open != nil {
		a, err = app.NewWithRuntime(context.Background(), cfg, log, open)
	} else {
		a, err = app.New(context.Background(), cfg, log)
	}
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{Server: httptest.NewServer(a.Handler()), App: a, Config: cfg, Logs: logs, Stop: stop}
	a.Run(ctx)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("Warder's log:\n%s", logs.String())
		}
	})
	tb.Cleanup(func() {
		stop()
		a.Handler().CloseStreams() // Close waits for every response to end
		s.Close()
		if release != nil {
			release(a)
		}
		a.Close()
	})
	return s
}
