package docker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestDockerUnreachable needs no engine: every call on a dead socket must
// come back as ErrUnavailable, promptly.
func TestDockerUnreachable(t *testing.T) {
	r, err := New(Config{Host: "unix:///nonexistent.sock", Network: "warder-test-net", DefaultImage: "warder/agent:latest"})
	if err != nil {
		t.Fatalf("New must not contact the engine, yet failed: %v", err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spec := baseSpec()
	calls := map[string]func() error{
		"Ping":    func() error { return r.Ping(ctx) },
		"Setup":   func() error { return r.Setup(ctx) },
		"Create":  func() error { _, err := r.Create(ctx, spec); return err },
		"Start":   func() error { return started(r.Start(ctx, "x")) },
		"Stop":    func() error { return r.Stop(ctx, "x", time.Second) },
		"Remove":  func() error { return r.Remove(ctx, "x") },
		"Inspect": func() error { _, err := r.Inspect(ctx, "x"); return err },
		"Logs":    func() error { _, err := warder.CollectLogs(ctx, r, "x", warder.LogOptions{}); return err },
		"Stats":   func() error { _, err := r.Stats(ctx, "x"); return err },
		"List":    func() error { _, err := r.List(ctx); return err },
		"Events": func() error {
			return r.Events(ctx, func() { t.Error("Events called ready") }, func(warder.WorkloadEvent) {})
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, warder.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
		if msg := warder.ErrorMessage(err); msg == "" {
			t.Errorf("%s: no caller-facing message", name)
		}
	}
}

func TestMissingContainer(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	id := testenv.UniqueName("warder-test-missing-")
	calls := map[string]func() error{
		"Start":   func() error { return started(r.Start(ctx, id)) },
		"Stop":    func() error { return r.Stop(ctx, id, time.Second) },
		"Inspect": func() error { _, err := r.Inspect(ctx, id); return err },
		"Logs":    func() error { _, err := warder.CollectLogs(ctx, r, id, warder.LogOptions{}); return err },
		"Stats":   func() error { _, err := r.Stats(ctx, id); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, warder.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	if err := r.Remove(ctx, id); err != nil {
		t.Errorf("Remove of a missing container: %v, want success", err)
	}
}

// TestCreateMissingImage: an image that is neither on the host nor the
// default cannot be pulled here (no registry), which is the caller's error.
func TestCreateMissingImage(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx := context.Background()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, r)
	spec.Image = "warder-test/missing:" + testenv.UniqueName("")
	start := time.Now()
	_, err := r.Create(ctx, spec)
	t.Logf("Create with a missing image failed after %v: %v", time.Since(start), err)
	if !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if d := time.Since(start); d > pullTimeout+5*time.Second {
		t.Errorf("Create took %v, over the pull timeout of %v", d, pullTimeout)
	}
}
