package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

var settings = json.RawMessage(`{"image":"warder-agent","env":{"sealed":"v1:AAAA"}}`)

func meta(agent, name string) Meta {
	return Meta{AgentID: agent, Owner: "user-1", Name: name, Settings: settings}
}

// testRoundTrip: a saved tar comes back byte for byte, extracted through
// the restore contract into a staging directory; the manifest says what
// was saved.
func testRoundTrip(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	tr := treeTar(t, 3, 60, 512<<10)
	m, err := a.Save(ctx, meta("agent-1", "before upgrade"), bytes.NewReader(tr))
	if err != nil {
		t.Fatal(err)
	}
	if m.TarBytes != int64(len(tr)) || m.StoredBytes <= 0 || len(m.SHA256) != 64 || m.Owner != "user-1" ||
		m.Name != "before upgrade" || string(m.Settings) != string(settings) || m.Format != Format {
		t.Fatalf("manifest: %+v", m)
	}
	if got, err := a.Get(ctx, "agent-1", m.ID); err != nil || got.SHA256 != m.SHA256 || !got.CreatedAt.Equal(m.CreatedAt) {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	staging := t.TempDir()
	var back bytes.Buffer
	got, err := a.Restore(ctx, "agent-1", m.ID, func(r io.Reader) error {
		return extract(io.TeeReader(r, &back), staging)
	})
	if err != nil || got.ID != m.ID {
		t.Fatalf("Restore: %v", err)
	}
	// extract stops at the tar's end marker; Restore read the rest.
	r, err := a.Open(ctx, "agent-1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(r)
	r.Close()
	if err != nil || sum(all) != sum(tr) {
		t.Fatalf("the tar read back differs (%d of %d bytes, %v)", len(all), len(tr), err)
	}
	checkExtracted(t, tr, staging)
}

// extract is a caller's staging step: the tar's files into dir.
func extract(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return fmt.Errorf("entry %q outside", hdr.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
}

func checkExtracted(t *testing.T, want []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(want))
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		got, err := os.ReadFile(filepath.Join(dir, hdr.Name))
		if err != nil || sum(got) != sum(data) {
			t.Fatalf("%s: restored file differs (%v)", hdr.Name, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no files compared")
	}
}

// testInterruptedSaveNotListed: a workspace stream that breaks mid-way
// fails Save and leaves nothing in the store, listed or not.
func testInterruptedSaveNotListed(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	for _, size := range []int64{100 << 10, 30 << 20} { // one part; several (random bytes do not compress)
		r := &failingReader{r: randomReader(4, size*2), n: size, err: errMidStream}
		if _, err := a.Save(ctx, meta("agent-1", "broken"), r); !errors.Is(err, errMidStream) {
			t.Fatalf("Save of a broken stream (%d bytes in): %v", size, err)
		}
	}
	list, err := a.List(ctx, "agent-1")
	if err != nil || len(list) != 0 {
		t.Fatalf("List after broken saves: %v, %v", list, err)
	}
	if got := keys(t, st, ""); len(got) != 0 {
		t.Fatalf("broken saves left %v", got)
	}
}

// testManifestlessDataNotListed: what a crash between the data object and
// its manifest leaves is not listed, and Cleanup removes it once old.
func testManifestlessDataNotListed(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	done, err := a.Save(ctx, meta("agent-1", "whole"), bytes.NewReader(treeTar(t, 5, 5, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	orphan := dataKey("agent-1", "0190aaaa-0000-7000-8000-000000000000")
	if _, err := st.Put(ctx, orphan, bytes.NewReader([]byte("data without a manifest"))); err != nil {
		t.Fatal(err)
	}
	list, err := a.List(ctx, "agent-1")
	if err != nil || len(list) != 1 || list[0].ID != done.ID {
		t.Fatalf("List: %v, %v; want only %s", list, err, done.ID)
	}
	if n, err := a.Cleanup(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("Cleanup removed %d young objects (%v)", n, err)
	}
	time.Sleep(10 * time.Millisecond)
	if n, err := a.Cleanup(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Cleanup: %d, %v; want the orphan removed", n, err)
	}
	if _, err := st.Stat(ctx, orphan); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("orphan still there: %v", err)
	}
	if _, err := a.Get(ctx, "agent-1", done.ID); err != nil {
		t.Fatalf("Cleanup touched a complete snapshot: %v", err)
	}
}

// testCorruptSnapshotFailsRestore: a stored object changed after the
// fact (one byte flipped, or cut short) fails Restore with ErrCorrupt,
// whatever extract did with the bytes.
func testCorruptSnapshotFailsRestore(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	tr := treeTar(t, 6, 30, 256<<10)
	for name, damage := range damages {
		m, err := a.Save(ctx, meta("agent-1", name), bytes.NewReader(tr))
		if err != nil {
			t.Fatal(err)
		}
		rewrite(t, st, dataKey("agent-1", m.ID), damage)
		extracted := false
		_, err = a.Restore(ctx, "agent-1", m.ID, func(r io.Reader) error {
			_, err := io.Copy(io.Discard, tar.NewReader(r))
			extracted = true
			return err
		})
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Restore: %v (extract ran: %v), want ErrCorrupt", name, err, extracted)
		}
		// The raw reader never ends in io.EOF either.
		if r, err := a.Open(ctx, "agent-1", m.ID); err == nil {
			_, err = io.Copy(io.Discard, r)
			r.Close()
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: reading to the end: %v, want ErrCorrupt", name, err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Open: %v", name, err)
		}
	}
}

// testFetchThenOpen: Fetch copies a snapshot as stored and checks it
// whole first; OpenFetched reads the same tar from the copy. A damaged
// object fails Fetch with ErrCorrupt, wherever the damage is.
func testFetchThenOpen(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	tr := treeTar(t, 7, 30, 256<<10)
	m, err := a.Save(ctx, meta("agent-1", "whole"), bytes.NewReader(tr))
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	got, err := a.Fetch(ctx, "agent-1", m.ID, &stored)
	if err != nil || got.SHA256 != m.SHA256 || int64(stored.Len()) != m.StoredBytes {
		t.Fatalf("Fetch: %+v %v, %d bytes", got, err, stored.Len())
	}
	r, err := a.OpenFetched(m, bytes.NewReader(stored.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(back, tr) {
		t.Fatalf("OpenFetched: %d bytes (want %d), %v", len(back), len(tr), err)
	}
	for name, damage := range damages {
		m, err := a.Save(ctx, meta("agent-1", name), bytes.NewReader(tr))
		if err != nil {
			t.Fatal(err)
		}
		rewrite(t, st, dataKey("agent-1", m.ID), damage)
		if _, err := a.Fetch(ctx, "agent-1", m.ID, io.Discard); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Fetch: %v, want ErrCorrupt", name, err)
		}
	}
	// The copy damaged after Fetch (it is a local file): the reader's
	// own checks still end in ErrCorrupt, never io.EOF.
	b := bytes.Clone(stored.Bytes())
	b[len(b)/2] ^= 0x40
	if r, err := a.OpenFetched(m, bytes.NewReader(b)); err == nil {
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("reading a damaged copy: %v, want ErrCorrupt", err)
		}
	}
}

// damages are the ways the corruption tests damage a stored object.
var damages = map[string]func([]byte) []byte{
	"flipped-middle": func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b },
	"flipped-last":   func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
	"truncated":      func(b []byte) []byte { return b[:len(b)-100] },
	"appended":       func(b []byte) []byte { return append(b, 0) },
}

// rewrite replaces the object under key with damage(its bytes).
func rewrite(t *testing.T, st Store, key string, damage func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, key, bytes.NewReader(damage(b))); err != nil {
		t.Fatal(err)
	}
}

// testMaxSize: a snapshot over either bound fails with ErrTooLarge as it
// streams, and leaves nothing behind.
func testMaxSize(t *testing.T, st Store) {
	ctx := context.Background()
	for name, cfg := range map[string]Config{"stored": {MaxBytes: 12 << 20}, "tar": {MaxTarBytes: 12 << 20}, "per-save": {MaxBytes: 100 << 20}} {
		a := mustArchive(t, st, cfg)
		m := meta("agent-1", name)
		if name == "per-save" {
			m.MaxBytes = 12 << 20 // tighter than the archive's
		}
		read := int64(0)
		r := readerFunc(func(p []byte) (int, error) { // endless, and counted
			n, _ := randomReader(uint64(read), int64(len(p))).Read(p)
			read += int64(n)
			return n, nil
		})
		_, err := a.Save(ctx, m, r)
		if !errors.Is(err, warder.ErrTooLarge) {
			t.Fatalf("%s: Save of an endless stream: %v", name, err)
		}
		if read > 40<<20 {
			t.Fatalf("%s: read %d bytes before stopping at a 12 MiB bound", name, read)
		}
		// Under the bound is fine.
		if _, err := a.Save(ctx, meta("agent-1", "ok"), randomReader(7, 5<<20)); err != nil {
			t.Fatalf("%s: Save under the bound: %v", name, err)
		}
	}
	a := mustArchive(t, st, Config{})
	list, err := a.List(ctx, "agent-1")
	if err != nil || len(list) != 3 {
		t.Fatalf("List: %d snapshots (%v), want the 3 under the bound", len(list), err)
	}
	if got := keys(t, st, ""); len(got) != 6 {
		t.Fatalf("objects: %v, want the 3 snapshots' 6", got)
	}
	if n, err := st.RemoveIncomplete(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("failed saves left %d unfinished writes (%v)", n, err)
	}
}

// testListDelete: List shows each agent's snapshots oldest first (or all
// agents'), Delete removes one and is safe twice.
func testListDelete(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	var ids []string
	for i, agent := range []string{"agent-1", "agent-2", "agent-1"} {
		m, err := a.Save(ctx, meta(agent, fmt.Sprint("s", i)), bytes.NewReader(treeTar(t, uint64(i), 3, 1000)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	list, err := a.List(ctx, "agent-1")
	if err != nil || len(list) != 2 || list[0].ID != ids[0] || list[1].ID != ids[2] {
		t.Fatalf("List agent-1: %v, %v", list, err)
	}
	if all, err := a.List(ctx, ""); err != nil || len(all) != 3 {
		t.Fatalf("List all: %d, %v", len(all), err)
	}
	for range 2 {
		if err := a.Delete(ctx, "agent-1", ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	list, _ = a.List(ctx, "agent-1")
	if len(list) != 1 || list[0].ID != ids[2] {
		t.Fatalf("after Delete: %v", list)
	}
	if _, err := a.Get(ctx, "agent-1", ids[0]); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Get of deleted: %v", err)
	}
	if _, err := a.Restore(ctx, "agent-1", ids[0], func(io.Reader) error { return nil }); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Restore of deleted: %v", err)
	}
	if _, err := a.Get(ctx, "agent-2", ids[2]); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("another agent's snapshot: %v", err)
	}
	for _, bad := range []string{"../agent-1", "a/b", ""} {
		if _, err := a.List(ctx, bad+"x/"); err == nil {
			t.Errorf("List %q: no error", bad)
		}
	}
}

// testConcurrentSnapshots: snapshots of several agents saved and restored
// at once each come back whole.
func testConcurrentSnapshots(t *testing.T, st Store) {
	ctx := context.Background()
	a := mustArchive(t, st, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Go(func() {
			agent := fmt.Sprint("agent-", i)
			tr := treeTar(t, uint64(10+i), 20, 1<<20)
			m, err := a.Save(ctx, meta(agent, "x"), bytes.NewReader(tr))
			if err != nil {
				errs <- err
				return
			}
			var back bytes.Buffer
			if _, err := a.Restore(ctx, agent, m.ID, func(r io.Reader) error { _, err := io.Copy(&back, r); return err }); err != nil {
				errs <- err
				return
			}
			if sum(back.Bytes()) != sum(tr) {
				errs <- fmt.Errorf("%s: restored bytes differ", agent)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if all, err := a.List(ctx, ""); err != nil || len(all) != 4 {
		t.Fatalf("List: %d, %v", len(all), err)
	}
}
