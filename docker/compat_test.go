package docker

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestAPI141 runs a minimal lifecycle with the API pinned to 1.41 (Docker
// 20.10), the oldest engine Warder supports, whatever this engine speaks.
func TestAPI141(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, func(c *Config) { c.APIVersion = "1.41" })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if v := r.APIVersion(); v != "1.41" {
		t.Fatalf("APIVersion = %s with a pin to 1.41", v)
	}
	runLifecycle(ctx, t, r, testSpec(t, r), false)
}

// TestNegotiatedVersion: with no pin, the runtime settles on a version
// this engine supports.
func TestNegotiatedVersion(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	if err := r.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	ping, err := r.cli.Ping(ctx, client.PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := r.APIVersion()
	t.Logf("engine API %s, negotiated %s", ping.APIVersion, got)
	if got == "" || versions.GreaterThan(got, ping.APIVersion) {
		t.Fatalf("negotiated %q, want a version no newer than the engine's %s", got, ping.APIVersion)
	}
	if versions.LessThan(got, client.MinAPIVersion) {
		t.Fatalf("negotiated %q, below the client's minimum %s", got, client.MinAPIVersion)
	}
}
