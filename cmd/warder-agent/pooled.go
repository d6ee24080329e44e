package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync/atomic"
)

// envPooled makes the agent a warm pool's container (Warder's
// WARDER_WARM_POOL): it binds its port at once, so the engine publishes
// it, but is nobody until Warder hands it an agent. Until then it answers
// 503 and writes nothing to its output, so an agent's logs begin with its
// claim.
const envPooled = "WARDER_AGENT_POOLED"

// maxClaimBytes bounds the one line a claim writes: 200 variables of
// 32 KiB each, plus the names and Warder's own.
const maxClaimBytes = 8 << 20

// claim is the line Warder writes to a pooled agent's stdin: the whole
// environment the agent would have been created with, secrets included.
// Only a holder of the Engine API can attach to a container's stdin, so
// no other party (another agent, anyone on the network) can write it; and
// the values never show in the container's configuration.
type claim struct {
	Env map[string]string `json:"env"`
}

// servePooled binds the port, waits for the claim on stdin, applies it to
// the process's environment, then runs as any agent would.
func servePooled(ctx context.Context, logger *log.Logger, base map[string]string, stdin io.Reader) error {
	l, err := listen(base["PORT"])
	if err != nil {
		return err
	}
	srv := l.srv
	got := make(chan claimResult, 1)
	go func() { got <- readClaim(stdin) }()
	var c claimResult
	select {
	case c = <-got:
	case err := <-l.errc:
		return err
	case <-ctx.Done():
		srv.Close()
		return nil // never claimed: nothing to drain
	}
	if c.err != nil {
		srv.Close()
		return c.err
	}
	env := make(map[string]string, len(base)+len(c.env))
	for k, v := range base {
		env[k] = v
	}
	delete(env, envPooled)
	for k, v := range c.env {
		env[k] = v
		// For anything that reads the environment rather than env.
		if err := os.Setenv(k, v); err != nil {
			srv.Close()
			return fmt.Errorf("claim: setting %s: %w", k, err)
		}
	}
	if p, err := portFrom(env["PORT"]); err != nil || p != l.port {
		srv.Close()
		return fmt.Errorf("claim: PORT %q is not the port %d this pooled agent listens on", env["PORT"], l.port)
	}
	return run(ctx, logger, env, l)
}

type claimResult struct {
	env map[string]string
	err error
}

// readClaim reads the one claim line; stdin ending first (Warder
// detached without a claim) is an error, so the container exits and the
// pool replaces it.
func readClaim(stdin io.Reader) claimResult {
	r := bufio.NewReaderSize(io.LimitReader(stdin, maxClaimBytes), 64<<10)
	line, err := r.ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return claimResult{err: fmt.Errorf("claim: reading stdin: %w", err)}
	}
	var c claim
	if err := json.Unmarshal(line, &c); err != nil {
		return claimResult{err: fmt.Errorf("claim: not a JSON object: %v", err)}
	}
	return claimResult{env: c.Env}
}

// swapHandler is the server's handler: 503 until set, so a port bound
// before the agent is configured never answers as an agent.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"detail":"not configured yet"}` + "\n"))
}
