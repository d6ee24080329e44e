package docker

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// legacyNetwork makes r's network as an older Warder (or the seed's
// `docker network create`) did: a bridge whose containers reach each other.
func legacyNetwork(t *testing.T, r *Runtime) {
	t.Helper()
	_, err := r.cli.NetworkCreate(context.Background(), r.cfg.Network, client.NetworkCreateOptions{
		Driver: "bridge", Labels: map[string]string{warder.LabelManaged: "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkIsolated(t, r, false)
}

func checkIsolated(t *testing.T, r *Runtime, want bool) {
	t.Helper()
	nets, err := r.networks(context.Background(), r.cfg.Network)
	if err != nil || len(nets) != 1 {
		t.Fatalf("networks named %s: %d, %v", r.cfg.Network, len(nets), err)
	}
	if got := isolating(nets[0]); got != want {
		t.Fatalf("network %s isolating = %v, want %v (options %v)", r.cfg.Network, got, want, nets[0].Options)
	}
}

// TestSetupIsolatesLegacyNetwork: Setup replaces a network that lets
// agents reach each other with an isolating one, and a running agent on it
// is reconnected and keeps answering on its port.
func TestSetupIsolatesLegacyNetwork(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	legacyNetwork(t, r)
	spec := testSpec(t, r)
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, r, id)

	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	checkIsolated(t, r, true)
	nets, _ := r.networks(ctx, r.cfg.Network)
	info, err := r.cli.NetworkInspect(ctx, nets[0].ID, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.Network.Containers[id]; !ok {
		t.Fatalf("the running agent was not reconnected to the new network: %v", info.Network.Containers)
	}
	waitHealthy(t, r, id)
}

// TestSetupRefusesSharedLegacyNetwork: a legacy network that also holds a
// container that is not an agent is not touched, and Setup says why.
func TestSetupRefusesSharedLegacyNetwork(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	legacyNetwork(t, r)
	spec := testSpec(t, r)
	delete(spec.Labels, warder.LabelAgentID) // someone else's container
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	err = r.Setup(ctx)
	if err == nil || !strings.Contains(err.Error(), "not a Warder agent") {
		t.Fatalf("Setup on a shared legacy network = %v, want a refusal naming the container", err)
	}
	checkIsolated(t, r, false)
}
