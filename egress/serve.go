package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Server returns an http.Server for the proxy with its bounds: header
// size, a deadline for the request header, and an idle timeout between
// requests of a kept-alive client connection. Wrap the listener with
// internal/connlimit to bound connections per client address as well.
func (p *Proxy) Server() *http.Server {
	return &http.Server{
		Handler:           p,
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       p.cfg.IdleTimeout,
	}
}

// Serve serves the proxy on ln until ctx ends, sending refusal summaries
// to Config.Summary meanwhile; then it stops accepting, cuts tunnels,
// gives requests in flight up to grace to finish, and sends the last
// summary.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := p.Server()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	tick := time.NewTicker(p.cfg.SummaryEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p.summarize()
		case err := <-errc:
			p.CloseTunnels()
			p.summarize()
			return err
		case <-ctx.Done():
			p.CloseTunnels()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				srv.Close()
			}
			if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
				err = serr
			}
			p.summarize()
			if errors.Is(err, context.DeadlineExceeded) {
				err = nil // requests cut at the end of grace: expected
			}
			return err
		}
	}
}

func (p *Proxy) summarize() {
	if p.cfg.Summary == nil {
		return
	}
	if s := p.TakeSummary(); len(s) > 0 {
		p.cfg.Summary(s)
	}
}
