package e2etest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// portBlocks hands out host port ranges: each server gets 500 ports of
// its own, from 20 blocks in 22000-31999 (above the docker package's
// tests, below the kernel's ephemeral ports), so servers of tests that
// run in parallel never publish one port twice. Blocks are reused in
// turn; far fewer than 20 servers are alive at once.
var portBlocks atomic.Int64

// NewServer starts Warder on a fresh SQLite database, the real Docker
// engine, the test agent image, a network and a host port range of its
// own; change adjusts the configuration first. When the test ends every
// agent's container and the networks are removed by exact name, and the
// app is closed (see apitest.Start).
func NewServer(tb testing.TB, change func(*app.Config)) *apitest.Server {
	tb.Helper()
	image, binary := AgentImage(tb)
	// Host ports, by who listens on them while packages' tests run side by
	// side: the fake runtimes of the unit tests 20000-20999 (service,
	// client, cli, api), the docker package's tests 21000-21999, these
	// blocks 22000-31999; all below Linux's ephemeral range (32768-).
	block := 22000 + 500*int(portBlocks.Add(1)%20)
	cfg := apitest.Config(tb)
	cfg.Network = Network(tb, "warder-test-net-")
	cfg.Image, cfg.AgentBinary = image, binary
	cfg.PortStart, cfg.PortEnd = block, block+499
	if change != nil {
		change(&cfg)
	}
	return apitest.Start(tb, cfg, nil, func(a *app.App) { removeAll(tb, a, cfg.Network) })
}

// removeAll removes every agent's container, the warm pool, the
// workspaces and the networks, by exact name. A server pointed at no Docker made nothing to remove.
func removeAll(tb testing.TB, a *app.App, network string) {
	a.Wait() // the warm pool's refill, above all, has stopped making containers
	removeWorkloads(tb, a)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The warm pool's unclaimed containers (claimed ones are agents').
	if err := a.Runtime().(*docker.Runtime).RemovePool(ctx); err != nil && !errors.Is(err, warder.ErrUnavailable) {
		tb.Errorf("cleanup: removing the warm pool: %v", err)
	}
	// Workspace helpers still running when the test ended (they remove
	// themselves when they exit) and the workspaces, kept ones too.
	if err := a.Runtime().(*docker.Runtime).RemoveWorkspaces(ctx); err != nil && !errors.Is(err, warder.ErrUnavailable) {
		tb.Errorf("cleanup: removing workspaces: %v", err)
	}
	for _, n := range []string{network, docker.InternalNetwork(network)} {
		err := a.Runtime().(*docker.Runtime).RemoveNetwork(ctx, n)
		switch {
		case errors.Is(err, docker.ErrEndpointCountLeak):
			// The engine's defect, not the test's: nothing is attached.
			// Main lists it at the end.
			stuckNetwork(n)
			tb.Logf("cleanup: %v", err)
		case err != nil && !errors.Is(err, warder.ErrUnavailable):
			tb.Errorf("cleanup: removing network %s: %v", n, err)
		}
	}
}
