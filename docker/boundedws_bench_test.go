package docker

import (
	"context"
	"fmt"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/loopfs"
	"github.com/warder/warder/internal/testkit/testenv"
)

// BenchmarkWorkspaceUsage60 measures what one upload's room check costs
// a user with 60 workspaces: the usage of each (one op = all 60).
// "filesystem" reads each bounded workspace's accounting (statfs);
// "helper" measures plain volumes, as before, with du in a helper
// container per workspace (run it with -benchtime=1x: about half a
// minute per op). Results: docs/benchmarks.md.
func BenchmarkWorkspaceUsage60(b *testing.B) {
	for _, c := range []struct {
		name    string
		bounded bool
	}{{"filesystem", true}, {"helper", false}} {
		b.Run(c.name, func(b *testing.B) {
			if err := loopfs.Available(); c.bounded && err != nil {
				testenv.SkipOrFail(b, "WARDER_REQUIRE_DOCKER", "bounded workspaces cannot be made here: %v", err)
			}
			dir := b.TempDir()
			r := newRuntime(b, func(cfg *Config) {
				cfg.Network = testenv.UniqueName("wbd-net-")
				if c.bounded {
					cfg.WorkspaceDir = dir
				}
			})
			ctx := context.Background()
			if err := r.Setup(ctx); err != nil {
				b.Fatal(err)
			}
			names := make([]string, 60)
			for i := range names {
				names[i] = testenv.UniqueName(fmt.Sprintf("wbd-bench-%02d-", i))
				name := names[i]
				b.Cleanup(func() {
					ctx, cancel := cleanupCtx()
					defer cancel()
					if err := r.RemoveWorkspace(ctx, name); err != nil {
						b.Errorf("cleanup: remove workspace %s: %v", name, err)
					}
				})
				ws := &warder.WorkspaceSpec{Name: name, MountPath: warder.WorkspaceMountPath, SizeBytes: 4 << 20,
					Labels: map[string]string{warder.LabelWorkspace: r.cfg.Network}}
				if _, err := r.ensureVolume(ctx, ws); err != nil {
					b.Fatal(err)
				}
			}
			if bounded, _ := r.WorkspaceBound(); bounded != c.bounded {
				b.Fatalf("workspaces bounded: %v, want %v", bounded, c.bounded)
			}
			b.ResetTimer()
			for b.Loop() {
				for _, name := range names {
					if _, err := r.WorkspaceUsage(ctx, name); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
