package docker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/loopfs"
	"github.com/warder/warder/internal/testkit/testenv"
)

// gvisorRuntime is a runtime whose agents run under gVisor by default
// (runc still allowed), on an engine that lists runsc (.ci/gvisor.sh
// registers it); without, the test skips, or fails with
// WARDER_REQUIRE_GVISOR=1 as CI sets.
func gvisorRuntime(t *testing.T, mod func(*Config)) *Runtime {
	t.Helper()
	testenv.Docker(t)
	r := newRuntime(t, func(c *Config) {
		c.Isolations = []warder.Isolation{warder.IsolationGVisor, warder.IsolationRunc}
		if mod != nil {
			mod(c)
		}
	})
	info, err := r.cli.Info(context.Background(), client.InfoOptions{})
	must(t, err)
	if _, ok := info.Info.Runtimes[DefaultGVisorRuntime]; !ok {
		testenv.SkipOrFail(t, "WARDER_REQUIRE_GVISOR", "the engine has no runtime %q (bash .ci/gvisor.sh register)", DefaultGVisorRuntime)
	}
	return r
}

// TestConformanceGVisor runs the runtime conformance suite with every
// agent under gVisor.
func TestConformanceGVisor(t *testing.T) {
	gvisorRuntime(t, nil) // skips without runsc
	conformance(t, func(mod func(*Config)) *Runtime { return gvisorRuntime(t, mod) })
}

// TestIsolationLevels: Info offers gvisor once the engine is seen to
// list runsc, before Setup too; an agent's container runs with the engine
// runtime of its level (runsc for gvisor and for the default, none of
// its own for runc), answers its health check, and runs inside gVisor's
// kernel (its /proc/version is gVisor's, not the host's).
func TestIsolationLevels(t *testing.T) {
	r := gvisorRuntime(t, nil)
	ctx := context.Background()
	// Before Setup the engine is asked at once: an agent asking for a
	// level just after start-up is not refused for Setup being behind.
	if got := r.Info().Isolations; !slices.Equal(got, []warder.Isolation{warder.IsolationGVisor, warder.IsolationRunc}) {
		t.Fatalf("Info().Isolations before Setup = %v", got)
	}
	must(t, r.Setup(ctx))
	if got := r.Info().Isolations; !slices.Equal(got, []warder.Isolation{warder.IsolationGVisor, warder.IsolationRunc}) {
		t.Fatalf("Info().Isolations = %v", got)
	}
	for _, tc := range []struct {
		level   warder.Isolation
		runtime string
	}{{"", "runsc"}, {warder.IsolationGVisor, "runsc"}, {warder.IsolationRunc, ""}} {
		t.Run(string(tc.level)+"/"+tc.runtime, func(t *testing.T) {
			spec := testSpec(t, r)
			spec.Isolation = tc.level
			id, err := r.Create(ctx, spec)
			must(t, err)
			_, err = r.Start(ctx, id)
			must(t, err)
			waitHealthy(t, r, id)
			ins, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			must(t, err)
			if got := ins.Container.HostConfig.Runtime; got != tc.runtime && !(tc.runtime == "" && got == "runc") {
				t.Fatalf("runtime = %q, want %q", got, tc.runtime)
			}
			var out strings.Builder
			code, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{agentPath, "cat", "/proc/version"}}, func(_ string, p []byte) error { out.Write(p); return nil })
			must(t, err)
			if code != 0 {
				t.Fatalf("cat /proc/version: exit %d: %s", code, out.String())
			}
			if sandboxed := strings.Contains(out.String(), "gVisor") || !strings.Contains(out.String(), "Linux version 6"); sandboxed != (tc.runtime == "runsc") {
				t.Fatalf("/proc/version under %q: %s", tc.runtime, out.String())
			}
		})
	}
}

// TestGVisorRequiredButMissing: a deployment whose default level is
// gvisor on an engine that has no such runtime fails its Setup, saying
// so, rather than running agents with less than asked; one that merely
// allows gvisor offers runc alone.
func TestGVisorRequiredButMissing(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, func(c *Config) {
		c.Isolations = []warder.Isolation{warder.IsolationGVisor}
		c.GVisorRuntime = "warder-no-such-runtime"
	})
	err := r.Setup(context.Background())
	if err == nil || !strings.Contains(err.Error(), "warder-no-such-runtime") {
		t.Fatalf("Setup = %v", err)
	}
	r = newRuntime(t, func(c *Config) {
		c.Isolations = []warder.Isolation{warder.IsolationRunc, warder.IsolationGVisor}
		c.GVisorRuntime = "warder-no-such-runtime"
	})
	must(t, r.Setup(context.Background()))
	if got := r.Info().Isolations; !slices.Equal(got, []warder.Isolation{warder.IsolationRunc}) {
		t.Fatalf("Info().Isolations = %v", got)
	}
	if _, err := warder.ResolveIsolation("gvisor", r.Info().Isolations); !errors.Is(err, warder.ErrInvalid) || !strings.Contains(err.Error(), "available: runc") {
		t.Fatalf("ResolveIsolation(gvisor) = %v", err)
	}
}

// TestWorkspaceBoundedUnderGVisor is TestWorkspaceBoundedByFilesystem
// with the agent in gVisor's sandbox: the bounded ext4 workspace, served
// to the sandbox through its Gofer, still ends a write at its size.
func TestWorkspaceBoundedUnderGVisor(t *testing.T) {
	if err := loopfs.Available(); err != nil {
		testenv.SkipOrFail(t, "WARDER_REQUIRE_DOCKER", "bounded workspaces cannot be made here: %v", err)
	}
	dir := t.TempDir()
	r := gvisorRuntime(t, func(c *Config) { c.Network = testenv.UniqueName("wbd-net-"); c.WorkspaceDir = dir })
	must(t, r.Setup(context.Background()))
	if ok, why := r.WorkspaceBound(); !ok {
		t.Fatalf("workspaces are not bounded by the filesystem here: %s", why)
	}
	checkBounded(t, r)
}

// TestWarmPoolGVisor: with gvisor the default level the warm pool's
// containers run under runsc; an agent of the default level and the
// pool's shape is handed one (healthy, as itself); one asking for runc,
// or needing a live update (another shape, a restart policy: runsc has
// none) is not (ErrNotFound: it starts cold).
func TestWarmPoolGVisor(t *testing.T) {
	r := gvisorRuntime(t, func(c *Config) {
		c.Network = testenv.UniqueName("wpool-net-")
		c.WarmPool = []warder.PoolShape{{MemoryBytes: 48 << 20, MilliCPUs: 250, Size: 2}}
		c.PortStart, c.PortEnd = 23400, 23699
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must(t, r.Setup(ctx))
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.RemovePool(ctx); err != nil {
			t.Errorf("cleanup: remove pool: %v", err)
		}
		if err := r.RemoveWorkspaces(ctx); err != nil {
			t.Errorf("cleanup: remove workspaces: %v", err)
		}
	})
	must(t, r.refill(ctx))
	must(t, r.refill(ctx))
	if n := unclaimedCount(t, r); n != 2 {
		t.Fatalf("pool holds %d containers, want 2", n)
	}
	runc := poolAgentSpec(t, r)
	runc.Isolation = warder.IsolationRunc
	if _, err := r.Claim(ctx, runc); !errors.Is(err, warder.ErrNotFound) || !strings.Contains(err.Error(), "isolation") {
		t.Fatalf("Claim of a runc agent from a gVisor pool = %v", err)
	}
	// No live update under runsc: another shape, or a restart policy,
	// starts cold.
	other, restarting := poolAgentSpec(t, r), poolAgentSpec(t, r)
	other.MemoryBytes, other.MilliCPUs, other.Restart = 64<<20, 300, warder.RestartPolicy{}
	for _, spec := range []warder.WorkloadSpec{other, restarting} {
		if _, err := r.Claim(ctx, spec); !errors.Is(err, warder.ErrNotFound) || !strings.Contains(err.Error(), "gVisor") {
			t.Fatalf("Claim of an agent needing a live update from a gVisor pool = %v", err)
		}
	}
	a, b := poolAgentSpec(t, r), poolAgentSpec(t, r)
	a.Restart, b.Restart = warder.RestartPolicy{}, warder.RestartPolicy{}
	for _, spec := range []warder.WorkloadSpec{a, b} {
		claimed, err := r.Claim(ctx, spec)
		if err != nil {
			t.Fatalf("Claim (%d bytes): %v", spec.MemoryBytes, err)
		}
		if body := waitHealthy(t, r, claimed.ID); !strings.Contains(body, `"agent_id":"`+spec.AgentID+`"`) {
			t.Fatalf("/health = %s, want agent %s", body, spec.AgentID)
		}
		ins, err := r.cli.ContainerInspect(ctx, claimed.ID, client.ContainerInspectOptions{})
		must(t, err)
		if hc := ins.Container.HostConfig; hc.Runtime != DefaultGVisorRuntime || hc.Memory != spec.MemoryBytes {
			t.Fatalf("claimed container: runtime %q, memory %d; want runsc, %d", hc.Runtime, hc.Memory, spec.MemoryBytes)
		}
	}
}
