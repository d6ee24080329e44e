package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/warder/warder/internal/connlimit"
	"github.com/warder/warder/metrics"
)

// Serve runs Warder: the API on cfg.Addr and the background work, until
// ctx ends; then it stops accepting, lets responses finish (streams are
// told to end), waits for the background work and closes the store.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	// Deferred after Close, so it runs first: Close waits for the
	// background work, which this ends, on every way out.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	a.Run(runCtx)

	tcp, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	limits := defaultServerLimits
	limits.Conns = connlimit.Limits{Total: cfg.MaxConnections, PerAddress: cfg.MaxConnectionsPerAddress}
	srv, ln := newHTTPServer(a.handler, limits, tcp, log)
	a.metrics.WatchConnections(func() metrics.Connections {
		s := ln.Stats()
		return metrics.Connections{Open: s.Open, RefusedAddress: s.RefusedAddress, RefusedTotal: s.RefusedTotal, ClosedIdle: s.ClosedIdle}
	})
	// Shutdown waits for responses to finish; streams end only when told.
	srv.RegisterOnShutdown(a.handler.CloseStreams)
	log.Info("warder listening", "addr", ln.Addr().String(), "database", dbName(cfg), "network", cfg.Network, "image", cfg.Image,
		"max_connections", cfg.MaxConnections, "max_connections_per_address", cfg.MaxConnectionsPerAddress)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Shutdown runs on a fresh context: the serve context is already done.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serverLimits are the HTTP server's own bounds on a connection; the API
// bounds bodies itself (api.MaxBodyBytes, api.DefaultBodyTimeout). There is
// no ReadTimeout or WriteTimeout: they would cut streams and proxied
// uploads, which end with the client, the agent or a shutdown.
type serverLimits struct {
	// ReadHeader is how long a request's line and headers may take.
	ReadHeader time.Duration
	// Idle is how long a keep-alive connection may wait for a request.
	Idle time.Duration
	// MaxHeaderBytes caps a request's line and headers.
	MaxHeaderBytes int
	// Conns caps the open connections, in total and per client address;
	// it comes from the configuration (Config.MaxConnections).
	Conns connlimit.Limits
}

// defaultServerLimits: 10 s for headers a client has at hand; 2 min of
// idle keep-alive, longer than browsers (about 1 min) and proxies keep
// idle connections open; 64 KiB of headers, a sixteenth of Go's default
// and still room for long cookies passed through the proxy.
var defaultServerLimits = serverLimits{ReadHeader: 10 * time.Second, Idle: 2 * time.Minute, MaxHeaderBytes: 64 << 10}

// newHTTPServer is the server in front of h, and the listener it must
// serve: ln within l.Conns. The server's ConnState hook tells the
// listener which connections are idle, which it may close to make room
// (see package connlimit).
func newHTTPServer(h http.Handler, l serverLimits, ln net.Listener, log *slog.Logger) (*http.Server, *connlimit.Listener) {
	cl := connlimit.New(ln, l.Conns, log)
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeader, IdleTimeout: l.Idle, MaxHeaderBytes: l.MaxHeaderBytes,
		ConnState: cl.ConnState}, cl
}

// setupUntilDone prepares the network and image in the background, retrying
// while Docker is unreachable, so the API is up at once either way.
func (a *App) setupUntilDone(ctx context.Context) {
	log := a.log
	delay := time.Second
	for {
		err := a.runtime.Setup(ctx)
		if err == nil {
			log.Info("runtime ready", "runtime", a.runtime.Info().Name)
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("runtime setup failed; retrying", "runtime", a.runtime.Info().Name, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// dbName says which database is in use without printing credentials.
func dbName(cfg Config) string {
	if cfg.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite:" + cfg.sqlitePath()
}
