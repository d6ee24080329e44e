// Package e2etest starts real Warders for the end-to-end tests (e2e/) and
// the benchmarks (bench/): Warder as cmd/warder wires it (internal/app),
// on a fresh SQLite database or a given PostgreSQL one, the real Docker
// engine, a test-only agent image and a network of its own, behind an
// httptest server; or the warder binary itself, built from this module.
// Everything it makes is removed by exact name or id.
package e2etest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/agentbin"
	"github.com/warder/warder/internal/testkit/testenv"
)

// shared is the agent binary and image every test of one test binary
// uses, built once and removed by Main.
var shared struct {
	once    sync.Once
	err     error
	binary  string
	image   string
	builder *docker.Runtime
}

// Main runs the tests, then removes the test images and agent binary and
// stops the throwaway PostgreSQL server and Podman service, if they were
// made. A package
// that uses this one calls it from its TestMain.
func Main(m *testing.M) {
	code := m.Run()
	// A network a test left behind is that test's defect: say whose, and
	// remove it by name so the machine is left clean anyway.
	if left, err := leftNetworks(); err != nil {
		slog.Error("checking for networks the tests left behind", "err", err)
	} else if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2etest: networks left behind by their tests, now removed: %s\n", strings.Join(left, "; "))
	}
	if stuck := stuckNetworks(); len(stuck) > 0 {
		fmt.Fprintf(os.Stderr, "e2etest: the engine would not remove these networks though nothing is attached to them (%v): %s\n",
			docker.ErrEndpointCountLeak, strings.Join(stuck, "; "))
	}
	if err := stopPodman(); err != nil {
		slog.Error("stopping the test Podman service", "err", err)
		code = 1
	}
	if shared.image != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := shared.builder.RemoveImage(ctx, shared.image); err != nil {
			slog.Error("removing test image", "image", shared.image, "err", err)
		}
		cancel()
	}
	if shared.binary != "" {
		os.RemoveAll(strings.TrimSuffix(shared.binary, "/warder-agent"))
	}
	testenv.StopPostgres()
	os.Exit(code)
}

// AgentImage builds the warder-agent binary and an image of it under a
// test-only tag, once per test binary, and returns both.
func AgentImage(tb testing.TB) (image, binary string) {
	tb.Helper()
	testenv.Docker(tb)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "warder-test-agent-")
		if err != nil {
			shared.err = err
			return
		}
		if shared.binary, shared.err = agentbin.Build(ctx, dir); shared.err != nil {
			return
		}
		if shared.builder, shared.err = docker.New(docker.Config{}); shared.err != nil {
			return
		}
		tag := testenv.UniqueName("warder-test/agent:t")
		if shared.err = shared.builder.BuildAgentImage(ctx, tag, shared.binary); shared.err == nil {
			shared.image = tag
		}
	})
	if shared.err != nil {
		tb.Fatalf("building the test agent image: %v", shared.err)
	}
	return shared.image, shared.binary
}

// BuildWarder builds cmd/warder into a temporary directory of tb's and
// returns the binary: for tests of Warder as a process of its own.
func BuildWarder(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "warder")
	build := exec.Command("go", "build", "-o", bin, "github.com/warder/warder/cmd/warder")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building warder: %v\n%s", err, out)
	}
	return bin
}
