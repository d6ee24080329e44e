package docker

import (
	"context"
	"net"
	"testing"

	"github.com/moby/moby/client"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestInternalGuard: Setup puts Warder's own guard on the internal
// network's bridge (a chain in the mangle table that Docker never
// rewrites, jumped to from FORWARD), and removing the network takes its
// rules away again.
func TestInternalGuard(t *testing.T) {
	r := newRuntime(t, func(c *Config) { c.Network = testenv.UniqueName("wig-net-") })
	if !r.canGuard() {
		testenv.SkipOrFail(t, "WARDER_REQUIRE_DOCKER", "the guard needs root beside a local engine, with iptables")
	}
	ctx := context.Background()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.cli.NetworkInspect(ctx, InternalNetwork(r.cfg.Network), client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	br := bridgeName(res.Network)
	if _, err := net.InterfaceByName(br); err != nil {
		t.Fatalf("the internal network's bridge is not %s: %v", br, err)
	}
	for _, rule := range guardRules(br) {
		if err := mangle(ctx, append([]string{"-C", internalGuardChain}, rule...)...); err != nil {
			t.Fatalf("guard rule missing after Setup: %v", err)
		}
	}
	if err := mangle(ctx, "-C", "FORWARD", "-j", internalGuardChain); err != nil {
		t.Fatalf("FORWARD does not jump to the guard: %v", err)
	}
	// A rule left for a bridge that is gone is pruned at the next Setup,
	// which makes no second copy of the live ones.
	stale := "br-" + testenv.UniqueName("")[:12]
	for _, rule := range guardRules(stale) {
		if err := mangle(ctx, append([]string{"-A", internalGuardChain}, rule...)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rule := range guardRules(stale) {
		if err := mangle(ctx, append([]string{"-C", internalGuardChain}, rule...)...); err == nil {
			t.Fatalf("a rule of a gone bridge was not pruned: %v", rule)
		}
	}
	if err := r.RemoveNetwork(ctx, InternalNetwork(r.cfg.Network)); err != nil {
		t.Fatal(err)
	}
	for _, rule := range guardRules(br) {
		if err := mangle(ctx, append([]string{"-C", internalGuardChain}, rule...)...); err == nil {
			t.Fatalf("guard rule left after the network's removal: %v", rule)
		}
	}
}
