package docker

import (
	"context"
	"errors"
	cerrdefs "github.com/containerd/errdefs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// checkOneNetwork asserts that exactly one network is named name, and that
// it is the labelled bridge Setup creates.
func checkOneNetwork(t *testing.T, r *Runtime, name string) {
	t.Helper()
	nets, err := r.networks(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 {
		t.Fatalf("%d networks named %s, want exactly 1", len(nets), name)
	}
	if n := nets[0]; n.Driver != "bridge" || n.Labels[warder.LabelManaged] != "true" {
		t.Errorf("network %s: driver %q, labels %v; want a bridge labelled %s=true", name, n.Driver, n.Labels, warder.LabelManaged)
	}
}

func TestSetupIdempotent(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	for i := range 2 {
		if err := r.Setup(ctx); err != nil {
			t.Fatalf("Setup #%d: %v", i+1, err)
		}
	}
	checkOneNetwork(t, r, r.cfg.Network)
}

func TestSetupConcurrent(t *testing.T) {
	testenv.Docker(t)
	t.Run("one runtime", func(t *testing.T) {
		r := newRuntime(t, nil)
		setupConcurrently(t, func(int) *Runtime { return r })
		checkOneNetwork(t, r, r.cfg.Network)
	})
	// Five runtimes stand for five Warder processes: no shared mutex, so
	// only the keep-the-oldest rule prevents duplicate networks on API 1.41.
	t.Run("five runtimes", func(t *testing.T) {
		r := newRuntime(t, nil)
		setupConcurrently(t, func(int) *Runtime {
			other, err := New(r.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			return other
		})
		checkOneNetwork(t, r, r.cfg.Network)
	})
}

func setupConcurrently(t *testing.T, runtime func(i int) *Runtime) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		rt := runtime(i)
		wg.Go(func() { errs[i] = rt.Setup(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Setup in goroutine %d: %v", i, err)
		}
	}
}

// TestSetupBuildsMissingImage: Setup builds DefaultImage once, and a Create
// that finds it gone again provides it by itself.
func TestSetupBuildsMissingImage(t *testing.T) {
	testenv.Docker(t)
	var builds atomic.Int32
	r := newRuntime(t, func(c *Config) {
		c.DefaultImage = "warder-test/agent:" + testenv.UniqueName("setup-")
		bin := c.AgentBinary
		c.AgentBinary = func(ctx context.Context) (string, error) {
			builds.Add(1)
			return bin(ctx)
		}
	})
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.RemoveImage(ctx, r.cfg.DefaultImage); err != nil {
			t.Errorf("cleanup: remove image %s: %v", r.cfg.DefaultImage, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range 2 {
		if err := r.Setup(ctx); err != nil {
			t.Fatalf("Setup: %v", err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("AgentBinary called %d times over two Setups, want 1", n)
	}
	if _, err := r.cli.ImageInspect(ctx, r.cfg.DefaultImage); err != nil {
		t.Fatalf("image %s after Setup: %v", r.cfg.DefaultImage, err)
	}

	// Remove the image and the network behind Setup's back: Create must
	// bring both back (the network by way of Setup too).
	if err := r.RemoveImage(ctx, r.cfg.DefaultImage); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork(ctx, r.cfg.Network); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, r)
	if _, err := r.Create(ctx, spec); err != nil {
		t.Fatalf("Create with the default image missing: %v", err)
	}
	if n := builds.Load(); n != 2 {
		t.Errorf("AgentBinary called %d times in all, want 2", n)
	}
	checkOneNetwork(t, r, r.cfg.Network)
}

func TestBuildFailureIsAnError(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	tag := "warder-test/broken:" + testenv.UniqueName("")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		_ = r.RemoveImage(ctx, tag) // nothing to remove unless the test failed
	})
	buildCtx, err := tarFiles([]tarFile{{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY missing /missing\n")}})
	if err != nil {
		t.Fatal(err)
	}
	err = r.buildImage(context.Background(), tag, buildCtx)
	if err == nil || !strings.Contains(err.Error(), "COPY failed") {
		t.Fatalf("build with a missing file: err = %v, want the COPY failure", err)
	}
	if err := r.BuildAgentImage(context.Background(), tag, "/nonexistent/warder-agent"); err == nil {
		t.Fatal("BuildAgentImage with a missing binary succeeded")
	}
}

// TestSetupRemovesDuplicateNetworks: duplicates left by an earlier race are
// cleaned up, but a duplicate Warder did not make is reported, not removed.
func TestSetupRemovesDuplicateNetworks(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	var made []string
	create := func(labels map[string]string) {
		t.Helper()
		res, err := r.cli.NetworkCreate(ctx, r.cfg.Network, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, res.ID)
	}
	// Duplicates share the name, so removing by name leaves one behind:
	// remove every network this test made by its id.
	t.Cleanup(func() {
		for _, id := range made {
			if _, err := r.cli.NetworkRemove(context.Background(), id, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("cleanup: remove network %s: %v", id, err)
			}
		}
	})
	managed := map[string]string{warder.LabelManaged: "true"}
	create(managed)
	create(managed)
	create(managed)
	if err := r.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	checkOneNetwork(t, r, r.cfg.Network)

	create(nil)
	if err := r.Setup(ctx); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("Setup with a foreign duplicate: err = %v, want it reported", err)
	}
	if nets, _ := r.networks(ctx, r.cfg.Network); len(nets) != 2 {
		t.Fatalf("%d networks after Setup, want both left alone", len(nets))
	}
}

// TestStartRestoresNetwork: on an engine where Setup never ran, or whose
// network was removed since, Create and Start bring the network back. (An
// API 1.41 engine notices the missing network at start, newer ones at
// create.)
func TestStartRestoresNetwork(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	testAgent(t) // the image exists; only the network is missing
	ctx := context.Background()
	spec := testSpec(t, r)
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create without the network: %v", err)
	}
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatalf("Start without the network: %v", err)
	}
	checkOneNetwork(t, r, r.cfg.Network)
	waitHealthy(t, r, id)
}

// TestRemoveNetwork: a network a running container is attached to is not
// removed, and the error names the container (a test's leak, never taken
// for the engine's miscount); once the container is gone, it is.
func TestRemoveNetwork(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec, id := startTestContainer(t, r)
	err := r.RemoveNetwork(ctx, r.cfg.Network)
	if !errors.Is(err, warder.ErrConflict) || errors.Is(err, ErrEndpointCountLeak) || !strings.Contains(err.Error(), spec.Name) {
		t.Fatalf("RemoveNetwork with %s attached = %v, want a conflict naming it", spec.Name, err)
	}
	if _, found, err := r.NetworkCreated(ctx, r.cfg.Network); err != nil || !found {
		t.Fatalf("network after the refused remove: found %v, %v", found, err)
	}
	must(t, r.Remove(ctx, id))
	must(t, r.RemoveNetwork(ctx, r.cfg.Network))
	if _, found, err := r.NetworkCreated(ctx, r.cfg.Network); err != nil || found {
		t.Fatalf("network after remove: found %v, %v", found, err)
	}
}

func TestActiveEndpoints(t *testing.T) {
	for msg, want := range map[string]bool{
		"Error response from daemon: error while removing network: network n id 3d26e09b has active endpoints": true,
		"Error response from daemon: network n not found":                                                      false,
	} {
		if got := activeEndpoints(errors.New(msg)); got != want {
			t.Errorf("activeEndpoints(%q) = %v, want %v", msg, got, want)
		}
	}
	if activeEndpoints(nil) {
		t.Error("activeEndpoints(nil) = true")
	}
}
