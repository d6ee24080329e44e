package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/snapshot"
)

// BenchmarkSnapshot measures snapshot and restore of a 100 MB workspace
// (WARDER_BENCH_SNAPSHOT_MB) of mixed files against the plain pipeline
// on the same files to the same store (issue 28's target: at least 0.8×
// its throughput), in one run:
//
//   - plain: `tar -c | zstd` (the zstd CLI's defaults: level 3, one
//     thread) into a file in the store's directory, or into the bucket
//     through a plain S3 upload; back: the file or the object through
//     `zstd -d | tar -x`.
//   - warder: `tar -c` into snapshot.Archive.Save (zstd, SHA-256,
//     manifest); back: Archive.Restore into `tar -x` in a staging
//     directory (verified at the end).
//
// Each is timed 3 times, alternating, and the median kept. The local
// store runs always; the S3 store on a SeaweedFS of the test's own
// (WARDER_SEAWEEDFS, .ci/seaweedfs.sh), skipped without it. A sweep of
// the archive's zstd level and concurrency on the local store comes
// first, the evidence behind Config's defaults.
//
//	go test -run '^$' -bench BenchmarkSnapshot -benchtime 1x -timeout 30m ./bench/
func BenchmarkSnapshot(b *testing.B) {
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
	b.Logf("workspace: %d files' bytes = %.1f MB, in %s", countFiles(b, tree), float64(size)/1e6, tree)
	b.Run("sweep", func(b *testing.B) { sweepSnapshot(b, tree, size) })
	b.Run("local", func(b *testing.B) {
		st, err := snapshot.NewDirStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		compareSnapshot(b, tree, size, st, localPlain{dir: st.Dir()})
	})
	b.Run("s3", func(b *testing.B) {
		srv := testenv.NewS3Server(b)
		st, err := snapshot.NewS3Store(snapshot.S3Config{Endpoint: srv.Endpoint, Region: srv.Region, Bucket: srv.Bucket(),
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.CreateBucket(context.Background()); err != nil {
			b.Fatal(err)
		}
		compareSnapshot(b, tree, size, st, s3Plain{st: st})
	})
}

// plainStore is where the plain pipeline's compressed tar goes.
type plainStore interface {
	put(ctx context.Context, name string, r io.Reader) error
	get(ctx context.Context, name string) (io.ReadCloser, error)
}

// localPlain writes the pipeline's output to a file, as `> file` would.
type localPlain struct{ dir string }

func (l localPlain) put(_ context.Context, name string, r io.Reader) error {
	f, err := os.Create(filepath.Join(l.dir, name))
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync() // as DirStore does: both reach the disk
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (l localPlain) get(_ context.Context, name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(l.dir, name))
}

// s3Plain is a plain upload: the store's Put, with no hashing, no
// manifest, no bounds.
type s3Plain struct{ st *snapshot.S3Store }

func (s s3Plain) put(ctx context.Context, name string, r io.Reader) error {
	_, err := s.st.Put(ctx, "plain/"+name, r)
	return err
}

func (s s3Plain) get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, _, err := s.st.Get(ctx, "plain/"+name)
	return rc, err
}

// compareSnapshot times the plain pipeline and the archive, both ways,
// and reports MB/s and the ratios.
func compareSnapshot(b *testing.B, tree string, size int64, st snapshot.Store, plain plainStore) {
	ctx := context.Background()
	a, err := snapshot.NewArchive(st, snapshot.Config{})
	if err != nil {
		b.Fatal(err)
	}
	var plainSave, plainRestore, save, restore []time.Duration
	var stored, plainStored int64
	for round := range 3 {
		name := fmt.Sprint("ws", round, ".tar.zst")
		steps := []func(){
			func() {
				plainSave = append(plainSave, timed(b, func() error { return plainSnapshot(ctx, tree, plain, name) }))
			},
			func() {
				var m *snapshot.Manifest
				save = append(save, timed(b, func() (err error) { m, err = archiveSnapshot(ctx, a, tree); return err }))
				stored = m.StoredBytes
				restore = append(restore, timed(b, func() error { return archiveRestore(ctx, b, a, m) }))
			},
		}
		if round%2 == 1 {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			step()
		}
		plainRestore = append(plainRestore, timed(b, func() error { return plainRestoreTo(ctx, b, plain, name) }))
	}
	if rc, err := plain.get(ctx, "ws0.tar.zst"); err == nil {
		plainStored, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	ps, pr, ws, wr := median(plainSave), median(plainRestore), median(save), median(restore)
	b.ReportMetric(mbps(ps), "plain-snapshot-MB/s")
	b.ReportMetric(mbps(ws), "snapshot-MB/s")
	b.ReportMetric(mbps(pr), "plain-restore-MB/s")
	b.ReportMetric(mbps(wr), "restore-MB/s")
	b.ReportMetric(ps.Seconds()/ws.Seconds(), "snapshot-ratio")
	b.ReportMetric(pr.Seconds()/wr.Seconds(), "restore-ratio")
	b.Logf("snapshot: plain %v (%.0f MB/s, %.1f MB stored), warder %v (%.0f MB/s, %.1f MB stored): %.2f×",
		ps, mbps(ps), float64(plainStored)/1e6, ws, mbps(ws), float64(stored)/1e6, ps.Seconds()/ws.Seconds())
	b.Logf("restore:  plain %v (%.0f MB/s), warder %v (%.0f MB/s): %.2f×", pr, mbps(pr), wr, mbps(wr), pr.Seconds()/wr.Seconds())
}

// sweepSnapshot times Save at each zstd level and encoder concurrency,
// and Restore at each decoder concurrency, on a local store: the
// evidence behind Config's defaults. Beside wall time it reports CPU
// time (this process's and its tar's), which a busy machine disturbs
// less.
func sweepSnapshot(b *testing.B, tree string, size int64) {
	ctx := context.Background()
	st, err := snapshot.NewDirStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	for _, level := range []int{1, 2} {
		for _, conc := range []int{1, 2, 4} {
			a, err := snapshot.NewArchive(st, snapshot.Config{Level: level, Concurrency: conc})
			if err != nil {
				b.Fatal(err)
			}
			var saves, cpus, restores, rcpus []time.Duration
			var m *snapshot.Manifest
			for range 3 {
				wall, cpu := timedCPU(b, func() error { m, err = archiveSnapshot(ctx, a, tree); return err })
				saves, cpus = append(saves, wall), append(cpus, cpu)
				wall, cpu = timedCPU(b, func() error { return archiveRestore(ctx, b, a, m) })
				restores, rcpus = append(restores, wall), append(rcpus, cpu)
				_ = a.Delete(ctx, m.AgentID, m.ID)
			}
			s, r := median(saves), median(restores)
			b.Logf("level %d, concurrency %d: snapshot %v (%.0f MB/s, CPU %v), restore %v (%.0f MB/s, CPU %v), stored %.1f MB",
				level, conc, s.Round(time.Millisecond), mbps(s), median(cpus).Round(time.Millisecond),
				r.Round(time.Millisecond), mbps(r), median(rcpus).Round(time.Millisecond), float64(m.StoredBytes)/1e6)
		}
	}
	name := "sweep.tar.zst"
	plain := localPlain{dir: b.TempDir()}
	var saves, cpus, restores, rcpus []time.Duration
	for range 3 {
		wall, cpu := timedCPU(b, func() error { return plainSnapshot(ctx, tree, plain, name) })
		saves, cpus = append(saves, wall), append(cpus, cpu)
		wall, cpu = timedCPU(b, func() error { return plainRestoreTo(ctx, b, plain, name) })
		restores, rcpus = append(restores, wall), append(rcpus, cpu)
	}
	s, r := median(saves), median(restores)
	b.Logf("plain tar | zstd: snapshot %v (%.0f MB/s, CPU %v), restore %v (%.0f MB/s, CPU %v)",
		s.Round(time.Millisecond), mbps(s), median(cpus).Round(time.Millisecond), r.Round(time.Millisecond), mbps(r), median(rcpus).Round(time.Millisecond))
}

// timedCPU is timed, with the CPU time this process and the children it
// waited for used meanwhile.
func timedCPU(b *testing.B, fn func() error) (wall, cpu time.Duration) {
	c0 := cpuTime() + childCPUTime()
	wall = timed(b, fn)
	return wall, cpuTime() + childCPUTime() - c0
}

func childCPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func plainSnapshot(ctx context.Context, tree string, plain plainStore, name string) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", `tar -C "$1" -cf - . | zstd -q -c`, "sh", tree)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	putErr := plain.put(ctx, name, out)
	return errors.Join(putErr, cmd.Wait())
}

func plainRestoreTo(ctx context.Context, b *testing.B, plain plainStore, name string) error {
	rc, err := plain.get(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	dst := stagingDir(b)
	cmd := exec.CommandContext(ctx, "sh", "-c", `zstd -q -d -c | tar -C "$1" -xf -`, "sh", dst)
	cmd.Stdin = rc
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return os.RemoveAll(dst)
}

// archiveSnapshot is Save of `tar -c`'s stream: where a runtime's
// ReadTar would give the workspace's.
func archiveSnapshot(ctx context.Context, a *snapshot.Archive, tree string) (*snapshot.Manifest, error) {
	cmd := exec.CommandContext(ctx, "tar", "-C", tree, "-cf", "-", ".")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m, saveErr := a.Save(ctx, snapshot.Meta{AgentID: "bench-agent", Owner: "bench", Name: "bench"}, out)
	return m, errors.Join(saveErr, cmd.Wait())
}

func archiveRestore(ctx context.Context, b *testing.B, a *snapshot.Archive, m *snapshot.Manifest) error {
	dst := stagingDir(b)
	_, err := a.Restore(ctx, m.AgentID, m.ID, func(tr io.Reader) error {
		cmd := exec.CommandContext(ctx, "tar", "-C", dst, "-xf", "-")
		cmd.Stdin = tr
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(dst)
}

func stagingDir(b *testing.B) string {
	dst, err := os.MkdirTemp(b.TempDir(), "restore-")
	if err != nil {
		b.Fatal(err)
	}
	return dst
}

func timed(b *testing.B, fn func() error) time.Duration {
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// makeWorkspace writes about total bytes of files shaped like an agent's
// workspace: many small source-like text files, some larger logs and
// JSON, and incompressible binaries (archives, images, a model file),
// about a third of the bytes each. Deterministic.
func makeWorkspace(b *testing.B, dir string, total int64) int64 {
	rng := rand.New(rand.NewPCG(28, 28))
	words := strings.Fields("func return if else for range package import type struct interface var const err nil " +
		"context string int64 bytes error fmt Sprintf append make len cap map chan go defer select case default " +
		"the agent workspace snapshot restore store object request response handler value key name id time")
	var written int64
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		written += int64(len(data))
	}
	text := func(n int, sep string) []byte {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(9) == 0 {
				sb.WriteString("\n" + strings.Repeat("\t", rng.IntN(4)))
			} else {
				sb.WriteString(sep)
			}
		}
		return []byte(sb.String()[:n])
	}
	random := func(n int) []byte {
		p := make([]byte, n)
		var w [8]byte
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(w[:], rng.Uint64())
			copy(p[i:], w[:])
		}
		return p
	}
	third := total / 3
	for i := 0; written < third; i++ { // source trees: 1-32 KB files
		write(fmt.Sprintf("src/pkg%02d/mod%d/file%04d.go", i%40, i%7, i), text(1024+rng.IntN(31*1024), " "))
	}
	for i := 0; written < 2*third; i++ { // logs and data: 256 KB - 4 MB
		write(fmt.Sprintf("data/run%03d.log", i), text(256*1024+rng.IntN(3840*1024), ", "))
	}
	for i := 0; written < total; i++ { // binaries: 64 KB - 8 MB
		write(fmt.Sprintf("bin/blob%03d.bin", i), random(64*1024+rng.IntN(8*1024*1024)))
	}
	return written
}

func countFiles(b *testing.B, dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
