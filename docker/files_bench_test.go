package docker

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// BenchmarkFilesCalls measures one files call through the workspace's
// files helper (an exec of warder-agent fsop in a helper already
// running), beside the engine's own archive-API stat of one path on the
// agent's container, the unit the old path paid per path element (a
// call on a/b/c stat'ed four paths, then used the archive API).
// Results: docs/benchmarks.md.
func BenchmarkFilesCalls(b *testing.B) {
	r, spec := wsRuntime(b)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.WriteTar(ctx, id, "a/b", oneFile("c.txt", strings.Repeat("x", 1024))); err != nil {
		b.Fatal(err)
	}
	calls := []struct {
		name string
		run  func() error
	}{
		{"engine-stat-one-path", func() error {
			_, err := r.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: "/data/a/b/c.txt"})
			return err
		}},
		{"stat", func() error { _, err := r.StatFile(ctx, id, "a/b/c.txt"); return err }},
		{"list", func() error { _, err := r.ListDir(ctx, id, "a/b", 100); return err }},
		{"read-1KiB", func() error {
			rc, err := r.ReadTar(ctx, id, "a/b/c.txt")
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			return err
		}},
		{"write-1KiB", func() error { return r.WriteTar(ctx, id, "a/b", oneFile("w.txt", strings.Repeat("y", 1024))) }},
	}
	for _, c := range calls {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
