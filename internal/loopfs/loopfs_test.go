package loopfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/warder/warder/internal/testkit/testenv"
)

// testDir is a Dir in a temporary directory; every image made in it is
// removed at cleanup, by name, before the directory is.
func testDir(t *testing.T) *Dir {
	t.Helper()
	if err := Available(); err != nil {
		// Where Warder runs agents, CI included, it runs as root.
		testenv.SkipOrFail(t, "WARDER_REQUIRE_DOCKER", "bounded workspaces cannot be made here: %v", err)
	}
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		names, _ := d.Names()
		for _, n := range names {
			if err := d.Remove(n); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return d
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"warder-ws-0123abcd": true, "a": true, "a.b_c-d": true,
		"": false, ".x": false, "-x": false, "a/b": false, "..": false, "a b": false, strings.Repeat("a", 201): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestMakeBoundsWrites: a 4 MB workspace takes a little under 4 MB and
// then ENOSPC, whoever writes; the image on the host stays at most 4 MB;
// usage follows writes and deletes; removal leaves no mount, loop
// device, image or mount point.
func TestMakeBoundsWrites(t *testing.T) {
	d := testDir(t)
	const bound = 4 << 20
	data, err := d.Make("warder-ws-test", bound)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Fatalf("a fresh workspace holds %d entries", len(ents))
	}
	if n, err := d.Usage("warder-ws-test"); err != nil || n != 0 {
		t.Fatalf("a fresh workspace uses %d bytes (%v), want 0", n, err)
	}
	f, err := os.Create(filepath.Join(data, "big"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	written := 0
	for ; written < 2*bound; written += len(chunk) {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing %d bytes into a %d-byte workspace: %v, want ENOSPC", written, bound, err)
	}
	if written < bound/2 {
		t.Errorf("ENOSPC after only %d bytes of %d", written, bound)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(d.Image("warder-ws-test"), &st))
	if st.Size != bound || st.Blocks*512 > bound {
		t.Errorf("the image is %d bytes, %d of them on the host's disk; want %d, at most %d", st.Size, st.Blocks*512, bound, bound)
	}
	used, err := d.Usage("warder-ws-test")
	if err != nil || used < int64(written)-64<<10 || used > bound {
		t.Errorf("usage %d (%v) after writing %d bytes", used, err, written)
	}
	must(t, os.Remove(filepath.Join(data, "big")))
	syscall.Sync()
	if n, _ := d.Usage("warder-ws-test"); n > 64<<10 {
		t.Errorf("usage %d after deleting everything", n)
	}

	image, mp := d.Image("warder-ws-test"), d.MountPoint("warder-ws-test")
	must(t, d.Remove("warder-ws-test"))
	assertGone(t, image, mp)
	must(t, d.Remove("warder-ws-test")) // gone is success
}

// TestMountAgain: an image whose mount is gone (a reboot) is mounted
// again by MountAll with its files, and its usage reads as before; a
// small bound still makes a filesystem.
func TestMountAgain(t *testing.T) {
	d := testDir(t)
	data, err := d.Make("ws-small", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(data, "f"), []byte("kept"), 0o644))
	syscall.Sync()
	before, _ := d.Usage("ws-small")
	must(t, syscall.Unmount(d.MountPoint("ws-small"), 0))
	must(t, detach(d.Image("ws-small")))
	if _, err := d.Usage("ws-small"); err == nil {
		t.Fatal("usage read from an unmounted workspace")
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the workspace directory exists unmounted (%v): a bind would reach the host's disk", err)
	}
	must(t, d.MountAll())
	if b, err := os.ReadFile(filepath.Join(data, "f")); err != nil || string(b) != "kept" {
		t.Fatalf("after mounting again: %q, %v", b, err)
	}
	if after, _ := d.Usage("ws-small"); after != before {
		t.Errorf("usage %d after mounting again, %d before", after, before)
	}
}

// assertGone fails t if image or mount point mp exists, or a mount on
// mp or a loop device of image is left.
func assertGone(t testing.TB, image, mp string) {
	t.Helper()
	if devs, err := LoopDevices(image); err != nil || len(devs) > 0 {
		t.Errorf("loop devices of %s left: %v (%v)", image, devs, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == mp {
			t.Errorf("a mount on %s is left: %s", mp, line)
		}
	}
	for _, p := range []string{image, mp} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left (%v)", p, err)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
