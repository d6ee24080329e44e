package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/snapshot"
	"github.com/warder/warder/wire"
)

// BenchmarkSnapshotAPI measures issue 28's snapshots end to end, through
// Warder's HTTP API on Docker, for a running agent whose workspace holds
// the 100 MB tree of BenchmarkSnapshot (WARDER_BENCH_SNAPSHOT_MB):
//
//   - snapshot: POST /api/agents/{id}/snapshots (the agent paused, its
//     workspace read (in process, for a bounded workspace), compressed, hashed, stored,
//     the agent resumed), against `tar -c | zstd` of the same files
//     (a local copy) to the same store;
//   - restore: POST .../snapshots/{sid}/restore (verified, the agent
//     stopped, its workspace emptied and filled, the agent started),
//     against `zstd -d | tar -x` from the same store into a directory;
//   - fork: POST /api/agents/{id}/fork {"start": true} until the new
//     agent runs: now (workspace to workspace) and from the snapshot.
//     Target: under 2 s.
//
// Each is timed 3 times, alternating with the plain pipeline, median
// kept; with the local store, then with the S3 store (a SeaweedFS of
// the benchmark's own; skipped without WARDER_SEAWEEDFS).
//
//	WARDER_SEAWEEDFS=$(bash .ci/seaweedfs.sh) go test -run '^$' -bench BenchmarkSnapshotAPI -benchtime 1x -timeout 30m ./bench/
func BenchmarkSnapshotAPI(b *testing.B) {
	for _, tool := range []string{"tar", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s (apt-get install %s)", tool, tool)
		}
	}
	mb := 100
	if v := os.Getenv("WARDER_BENCH_SNAPSHOT_MB"); v != "" {
		if _, err := fmt.Sscan(v, &mb); err != nil || mb <= 0 {
			b.Fatalf("WARDER_BENCH_SNAPSHOT_MB=%q is not a positive number", v)
		}
	}
	tree := b.TempDir()
	size := makeWorkspace(b, tree, int64(mb)<<20)
	b.Logf("workspace: %d files, %.1f MB", countFiles(b, tree), float64(size)/1e6)
	b.Run("local", func(b *testing.B) {
		plainDir := b.TempDir()
		benchSnapshotAPI(b, tree, size, nil, localPlain{dir: plainDir})
	})
	b.Run("s3", func(b *testing.B) {
		srv := testenv.NewS3Server(b)
		cfg := snapshot.S3Config{Endpoint: srv.Endpoint, Region: srv.Region, Bucket: srv.Bucket(),
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true}
		st, err := snapshot.NewS3Store(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.CreateBucket(context.Background()); err != nil {
			b.Fatal(err)
		}
		benchSnapshotAPI(b, tree, size, &cfg, s3Plain{st: st})
	})
}

// benchSnapshotAPI runs the measurements on one store: s3, or the local
// directory when nil.
func benchSnapshotAPI(b *testing.B, tree string, size int64, s3 *snapshot.S3Config, plain plainStore) {
	ctx := context.Background()
	// Bounded workspaces, as by default where Warder runs as root beside
	// a local engine (WARDER_WORKSPACE_DIR): measuring one is a statfs.
	wsDir, err := os.MkdirTemp("", "bench-ws-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(wsDir) }) // after the server unmounted its workspaces
	ts := e2etest.NewServer(b, func(c *app.Config) {
		c.Network = e2etest.Network(b, "bench-snap-")
		c.MaxUploadBytes = 4 * size
		c.WorkspaceBytes, c.WorkspaceDir = 4*size, wsDir
		if s3 != nil {
			c.Snapshots.S3 = *s3
		}
	})
	if _, err := client.New(ts.URL, "").Register(ctx, wire.RegisterRequest{Username: "bench", Email: "bench@example.com", Password: "correct horse"}); err != nil {
		b.Fatal(err)
	}
	c, err := client.Login(ctx, ts.URL, "bench", "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	a, err := c.CreateAgent(ctx, wire.AgentCreate{Name: "src", ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m", AutoStart: true}})
	if err != nil {
		b.Fatal(err)
	}
	upload := exec.Command("tar", "-C", tree, "-cf", "-", ".")
	out, err := upload.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := upload.Start(); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	_, werr := c.WriteTar(ctx, a.ID, "", out)
	if err := errors.Join(werr, upload.Wait()); err != nil {
		b.Fatal(err)
	}
	// The floor the runtime's files transport sets (on Docker, a files
	// helper's exec streams): the same workspace through the files API.
	b.Logf("files API: the tree uploaded as a tar in %s; read back as a tar in %s", time.Since(start), timed(b, func() error {
		rc, err := c.ReadTar(ctx, a.ID, "")
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc)
		return err
	}))

	var plainSave, plainRestore, save, restore, forkNow, forkSnap []time.Duration
	var stored int64
	for round := range 3 {
		name := fmt.Sprint("ws", round, ".tar.zst")
		var snap *wire.Snapshot
		plainSave = append(plainSave, timed(b, func() error { return plainSnapshot(ctx, tree, plain, name) }))
		save = append(save, timed(b, func() (err error) { snap, err = c.TakeSnapshot(ctx, a.ID, name); return err }))
		stored = snap.SizeBytes
		plainRestore = append(plainRestore, timed(b, func() error { return plainRestoreTo(ctx, b, plain, name) }))
		restore = append(restore, timed(b, func() error {
			after, err := c.RestoreSnapshot(ctx, a.ID, snap.ID)
			if err == nil && after.Status != warder.StatusRunning {
				err = fmt.Errorf("after restore: %s (%s)", after.Status, after.StatusReason)
			}
			return err
		}))
		for i, req := range []wire.ForkRequest{{Name: fmt.Sprint("now-", round), Start: true}, {Name: fmt.Sprint("snap-", round), Snapshot: snap.ID, Start: true}} {
			var f *wire.Agent
			d := timed(b, func() (err error) { f, err = c.ForkAgent(ctx, a.ID, req); return err })
			if f.Status != warder.StatusRunning {
				b.Fatalf("fork: %s (%s)", f.Status, f.StatusReason)
			}
			if i == 0 {
				forkNow = append(forkNow, d)
			} else {
				forkSnap = append(forkSnap, d)
			}
			if err := c.DeleteAgent(ctx, f.ID); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.DeleteSnapshot(ctx, a.ID, snap.ID); err != nil {
			b.Fatal(err)
		}
	}
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	ps, s, pr, r := median(plainSave), median(save), median(plainRestore), median(restore)
	fn, fs := median(forkNow), median(forkSnap)
	b.Logf("stored %.1f MB of %.1f MB", float64(stored)/1e6, float64(size)/1e6)
	b.Logf("snapshot: tar|zstd %s (%.0f MB/s), Warder %s (%.0f MB/s): %.2fx (target >= 0.8x)", ps, mbps(ps), s, mbps(s), ps.Seconds()/s.Seconds())
	b.Logf("restore:  zstd -d|tar -x %s (%.0f MB/s), Warder %s (%.0f MB/s): %.2fx (target >= 0.8x)", pr, mbps(pr), r, mbps(r), pr.Seconds()/r.Seconds())
	b.Logf("fork to a running agent: now %s, from the snapshot %s (target < 2s)", fn, fs)
	b.ReportMetric(mbps(s), "snapshot-MB/s")
	b.ReportMetric(mbps(r), "restore-MB/s")
	b.ReportMetric(ps.Seconds()/s.Seconds(), "snapshot-x-plain")
	b.ReportMetric(pr.Seconds()/r.Seconds(), "restore-x-plain")
	b.ReportMetric(fn.Seconds(), "fork-now-s")
	b.ReportMetric(fs.Seconds(), "fork-snapshot-s")

}
