package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/warder/warder/internal/testkit/testenv"
)

// suite is every test that runs on both stores, each on a store of its
// own (a new directory, a new bucket).
var suite = []struct {
	name string
	fn   func(t *testing.T, st Store)
}{
	{"Store", testStore},
	{"StorePutFails", testStorePutFails},
	{"RoundTrip", testRoundTrip},
	{"InterruptedSaveNotListed", testInterruptedSaveNotListed},
	{"ManifestlessDataNotListed", testManifestlessDataNotListed},
	{"CorruptSnapshotFailsRestore", testCorruptSnapshotFailsRestore},
	{"FetchThenOpen", testFetchThenOpen},
	{"MaxSize", testMaxSize},
	{"ListDelete", testListDelete},
	{"ConcurrentSnapshots", testConcurrentSnapshots},
	{"KilledSave", testKilledSave},
}

func TestDirStore(t *testing.T) {
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) { s.fn(t, newDirStore(t)) })
	}
}

// TestS3Store runs the suite on one real SeaweedFS (skipped without it
// unless WARDER_REQUIRE_S3=1).
func TestS3Store(t *testing.T) {
	srv := testenv.NewS3Server(t)
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) { s.fn(t, newS3Store(t, srv, 0)) })
	}
}

func newDirStore(t testing.TB) *DirStore {
	t.Helper()
	st, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newS3Store makes a new bucket on srv and returns a store over it, under
// a prefix (so keys outside it are seen not to leak in).
func newS3Store(t testing.TB, srv *testenv.S3Server, partSize int64) *S3Store {
	t.Helper()
	st, err := NewS3Store(S3Config{Endpoint: srv.Endpoint, Region: srv.Region, Bucket: srv.Bucket(), Prefix: "warder/snapshots",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true, PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// treeTar makes a tar of n files of mixed sizes (up to max bytes each)
// and kinds (text that compresses, random bytes that do not), from seed.
func treeTar(t testing.TB, seed uint64, n, max int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range n {
		size := rng.IntN(max + 1)
		data := make([]byte, size)
		fillRandom(rng, data)
		if i%3 != 0 { // text: a small alphabet compresses about 2:1
			for j := range data {
				data[j] = "abcdefgh ij\n"[data[j]%12]
			}
		}
		hdr := &tar.Header{Name: "dir" + string(rune('a'+i%5)) + "/f" + strconv.Itoa(i), Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fillRandom fills p from rng, 8 bytes a call.
func fillRandom(rng *rand.Rand, p []byte) {
	var w [8]byte
	for i := 0; i < len(p); i += 8 {
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(p[i:], w[:])
	}
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// failingReader gives the first n bytes of r, then fails.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

var errMidStream = errors.New("the workspace stream broke")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// randomReader is n incompressible bytes.
func randomReader(seed uint64, n int64) io.Reader {
	rng := rand.New(rand.NewPCG(seed, 1))
	return io.LimitReader(readerFunc(func(p []byte) (int, error) {
		fillRandom(rng, p)
		return len(p), nil
	}), n)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func mustArchive(t testing.TB, st Store, cfg Config) *Archive {
	t.Helper()
	a, err := NewArchive(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func keys(t testing.TB, st Store, prefix string) []string {
	t.Helper()
	objs, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}
