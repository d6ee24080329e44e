package service

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/api"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/snapshot"
	"github.com/warder/warder/sqlstore"
)

// entry is one tar entry of a test.
type entry struct {
	name string
	typ  byte
	mode int64
	body string
	link string
}

func tarBytes(t *testing.T, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

// listTar reads back what copyTree wrote: "name mode body".
func listTar(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, fmt.Sprintf("%s %o %s", h.Name, h.Mode, body))
	}
}

// TestCopyTree: a workspace tar as fsop gives it (under data/) comes out
// relative to the root; as the fake gives it (no root entry), unchanged;
// links and devices are left out and counted; modes lose setuid, setgid
// and sticky; an entry outside the root is an error.
func TestCopyTree(t *testing.T) {
	tests := []struct {
		name    string
		in      []entry
		want    []string
		skipped int
		err     bool
	}{
		{"fsop", []entry{
			{name: "data/", typ: tar.TypeDir, mode: 0o755},
			{name: "data/a.txt", typ: tar.TypeReg, mode: 0o4755, body: "A"},
			{name: "data/d/", typ: tar.TypeDir, mode: 0o1777},
			{name: "data/d/b", typ: tar.TypeReg, mode: 0o600, body: "B"},
			{name: "data/link", typ: tar.TypeSymlink, link: "/etc/passwd"},
			{name: "data/fifo", typ: tar.TypeFifo},
		}, []string{"a.txt 755 A", "d/ 777 ", "d/b 600 B"}, 2, false},
		{"fake", []entry{
			{name: "a.txt", typ: tar.TypeReg, mode: 0o644, body: "A"},
			{name: "data/x", typ: tar.TypeReg, mode: 0o644, body: "X"},
		}, []string{"a.txt 644 A", "data/x 644 X"}, 0, false},
		{"outside", []entry{
			{name: "data/", typ: tar.TypeDir, mode: 0o755},
			{name: "elsewhere", typ: tar.TypeReg, mode: 0o644, body: "E"},
		}, nil, 0, true},
		{"escape", []entry{
			{name: "data/", typ: tar.TypeDir, mode: 0o755},
			{name: "data/../../etc/x", typ: tar.TypeReg, mode: 0o644, body: "E"},
		}, nil, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			skipped, err := copyTree(&out, bytes.NewReader(tarBytes(t, tt.in)))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if tt.err {
				return
			}
			if got := listTar(t, out.Bytes()); strings.Join(got, "|") != strings.Join(tt.want, "|") || skipped != tt.skipped {
				t.Fatalf("got %q skipped %d, want %q skipped %d", got, skipped, tt.want, tt.skipped)
			}
		})
	}
}

// failAfter reads r, then fails instead of ending.
type failAfter struct{ r io.Reader }

func (f failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, snapshot.ErrCorrupt
	}
	return n, err
}

// TestWriteTreeFailedSourceCommitsNothing: a source that fails where a
// tar reader would take the stream for ended (between entries) still
// reaches the writer as a broken tar, so a writer that commits at the
// archive's end (fsop) commits nothing; the source's error is returned.
func TestWriteTreeFailedSourceCommitsNothing(t *testing.T) {
	whole := tarBytes(t, []entry{{name: "a", typ: tar.TypeReg, mode: 0o644, body: "A"}})
	cut := whole[:len(whole)-1024] // without the end-of-archive blocks
	for _, src := range []io.Reader{failAfter{bytes.NewReader(cut)}, failAfter{bytes.NewReader(whole)}} {
		w := &tarWriter{}
		_, err := writeTree(context.Background(), w, "id", src)
		if !errors.Is(err, snapshot.ErrCorrupt) {
			t.Fatalf("err = %v", err)
		}
		if w.ended {
			t.Fatal("the writer met the archive's end")
		}
	}
	w := &tarWriter{}
	if _, err := writeTree(context.Background(), w, "id", bytes.NewReader(whole)); err != nil || !w.ended {
		t.Fatalf("a whole source: %v, ended %v", err, w.ended)
	}
}

// tarWriter is a FileRuntime whose WriteTar reads the tar as fsop does
// and notes whether it met the archive's end cleanly.
type tarWriter struct {
	warder.FileRuntime
	ended bool
}

func (w *tarWriter) WriteTar(_ context.Context, _, _ string, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			w.ended = true
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return err
		}
	}
}

// TestSnapshotsOnFake: the rules on the fake runtime and a directory
// store: take, list, restore, fork; another user's agent is not found;
// the per-agent count; deleting an agent deletes its snapshots unless
// kept.
func TestSnapshotsOnFake(t *testing.T) {
	db, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := snapshot.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := New(api.AuditStatuses(db), runtimetest.NewFake(db, 20020, 20029), Config{ExclusiveStore: true,
		Lifecycle: AgentsConfig{DefaultImage: "warder/agent:latest", Spec: warder.SpecSettings{Network: "net", Workspaces: true}},
		Snapshots: SnapshotConfig{Store: st, PerAgent: 2}})
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	a := mustAgent(t, s, alice, "a")
	put := func(id, name, body string) {
		t.Helper()
		if _, err := s.Files.WriteFile(ctx, alice, id, name, strings.NewReader(body), 0); err != nil {
			t.Fatal(err)
		}
	}
	get := func(id, name string) string {
		t.Helper()
		rc, err := s.Files.ReadTar(ctx, alice, id, name)
		if err != nil {
			return "missing"
		}
		defer rc.Close()
		tr := tar.NewReader(rc)
		if _, err := tr.Next(); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		return string(b)
	}
	put(a.ID, "f.txt", "one")
	if _, err := s.Agents.StartAgent(ctx, alice, a.ID); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshots.TakeSnapshot(ctx, alice, a.ID, warder.SnapshotRequest{Name: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	put(a.ID, "f.txt", "two")
	put(a.ID, "g.txt", "new")
	after, err := s.Snapshots.RestoreSnapshot(ctx, alice, a.ID, snap.ID)
	if err != nil || after.Status != warder.StatusRunning {
		t.Fatalf("restore: %v %+v", err, after)
	}
	if get(a.ID, "f.txt") != "one" || get(a.ID, "g.txt") != "missing" {
		t.Fatalf("restored: f %q g %q", get(a.ID, "f.txt"), get(a.ID, "g.txt"))
	}
	f, err := s.Snapshots.ForkAgent(ctx, alice, a.ID, warder.ForkRequest{Name: "f", Snapshot: snap.ID})
	if err != nil || f.UserID != alice.ID {
		t.Fatalf("fork: %v %+v", err, f)
	}
	if get(f.ID, "f.txt") != "one" {
		t.Fatalf("fork: %q", get(f.ID, "f.txt"))
	}
	for _, err := range []error{
		func() error { _, err := s.Snapshots.ListSnapshots(ctx, bob, a.ID); return err }(),
		func() error {
			_, err := s.Snapshots.TakeSnapshot(ctx, bob, a.ID, warder.SnapshotRequest{Name: "x"})
			return err
		}(),
		func() error { _, err := s.Snapshots.RestoreSnapshot(ctx, bob, a.ID, snap.ID); return err }(),
		func() error {
			_, err := s.Snapshots.ForkAgent(ctx, bob, a.ID, warder.ForkRequest{Name: "x"})
			return err
		}(),
		s.Snapshots.DeleteSnapshot(ctx, bob, a.ID, snap.ID),
	} {
		if !errors.Is(err, warder.ErrNotFound) {
			t.Fatalf("bob: %v", err)
		}
	}
	if _, err := s.Snapshots.TakeSnapshot(ctx, alice, a.ID, warder.SnapshotRequest{Name: "v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshots.TakeSnapshot(ctx, alice, a.ID, warder.SnapshotRequest{Name: "v3"}); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("a third snapshot: %v", err)
	}
	if err := s.Snapshots.DeleteAgent(ctx, alice, a.ID, warder.DeleteOptions{KeepSnapshots: true}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Snapshots.ListSnapshots(ctx, alice, a.ID); err != nil || len(l.Snapshots) != 2 {
		t.Fatalf("kept: %v %+v", err, l)
	}
	if err := s.Snapshots.DeleteAgent(ctx, alice, f.ID, warder.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Snapshots.AllSnapshots(ctx, alice); err != nil || len(l.Snapshots) != 2 {
		t.Fatalf("all: %v %+v", err, l)
	}
}
