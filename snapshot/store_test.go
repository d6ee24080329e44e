package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/warder/warder"
)

// testStore is the Store contract, on both stores.
func testStore(t *testing.T, st Store) {
	ctx := context.Background()
	big := treeTar(t, 1, 40, 1<<20) // over one S3 part (8 MiB): a multipart upload
	small := []byte("small object")
	for key, data := range map[string][]byte{"a/big": big, "a/small": small, "b/x.json": small} {
		n, err := st.Put(ctx, key, bytes.NewReader(data))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("Put %s: %d, %v", key, n, err)
		}
	}
	rc, info, err := st.Get(ctx, "a/big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || sum(got) != sum(big) || info.Size != int64(len(big)) {
		t.Fatalf("Get a/big: %d bytes (info %d), %v; want %d bytes, same hash", len(got), info.Size, err, len(big))
	}
	if info, err := st.Stat(ctx, "a/small"); err != nil || info.Size != int64(len(small)) || info.Key != "a/small" {
		t.Fatalf("Stat: %+v, %v", info, err)
	}
	if got := keys(t, st, "a/"); !slices.Equal(got, []string{"a/big", "a/small"}) {
		t.Fatalf("List a/: %v", got)
	}
	if got := keys(t, st, ""); !slices.Equal(got, []string{"a/big", "a/small", "b/x.json"}) {
		t.Fatalf("List: %v", got)
	}
	// Put replaces.
	if _, err := st.Put(ctx, "a/small", bytes.NewReader([]byte("v2"))); err != nil {
		t.Fatal(err)
	}
	if info, _ := st.Stat(ctx, "a/small"); info.Size != 2 {
		t.Fatalf("replaced object has %d bytes", info.Size)
	}
	for _, key := range []string{"a/big", "a/big", "nope/x"} { // twice, and never there: success
		if err := st.Delete(ctx, key); err != nil {
			t.Fatalf("Delete %s: %v", key, err)
		}
	}
	if _, err := st.Stat(ctx, "a/big"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Stat of deleted: %v", err)
	}
	if _, _, err := st.Get(ctx, "a/big"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("Get of deleted: %v", err)
	}
	for _, bad := range []string{"", "../x", "a/../../x", "/abs", "a//b", ".hidden", "a/.b", "sp ace"} {
		if _, err := st.Put(ctx, bad, bytes.NewReader(nil)); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("Put %q: %v, want ErrInvalid", bad, err)
		}
	}
}

// testStorePutFails: a stream that breaks, or a context that ends, in the
// middle of a Put leaves nothing under the key and nothing unfinished.
func testStorePutFails(t *testing.T, st Store) {
	ctx := context.Background()
	for name, size := range map[string]int64{"one-part": 1 << 20, "multipart": 20 << 20} {
		r := &failingReader{r: randomReader(2, size+1), n: size, err: errMidStream}
		if _, err := st.Put(ctx, "broken/"+name, r); !errors.Is(err, errMidStream) {
			t.Fatalf("%s: Put of a broken stream: %v", name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	r := readerFunc(func(p []byte) (int, error) {
		cancel()
		return len(p), nil
	})
	if _, err := st.Put(cctx, "broken/cancelled", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with its context cancelled: %v", err)
	}
	if got := keys(t, st, ""); len(got) != 0 {
		t.Fatalf("failed Puts left %v", got)
	}
	if n, err := st.RemoveIncomplete(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("failed Puts left %d unfinished writes (%v)", n, err)
	}
}
