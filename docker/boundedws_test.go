package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/loopfs"
	"github.com/warder/warder/internal/testkit/testenv"
)

// boundRuntime is a runtime (newRuntime's, or on Podman when podman)
// whose workspaces are filesystems in a directory of the test's own.
func boundRuntime(t *testing.T, podman bool) *Runtime {
	t.Helper()
	if err := loopfs.Available(); err != nil {
		testenv.SkipOrFail(t, "WARDER_REQUIRE_DOCKER", "bounded workspaces cannot be made here: %v", err)
	}
	dir := t.TempDir()
	mod := func(c *Config) { c.Network = testenv.UniqueName("wbd-net-"); c.WorkspaceDir = dir }
	var r *Runtime
	if podman {
		r = newPodmanRuntime(t, mod)
	} else {
		r = newRuntime(t, mod)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	must(t, r.Setup(ctx))
	if ok, why := r.WorkspaceBound(); !ok {
		t.Fatalf("workspaces are not bounded by the filesystem here, as root beside a local engine: %s", why)
	}
	return r
}

// boundSpec is testSpec with a workspace of bound bytes. At cleanup its
// container goes, then the workspace, and then the test checks, by the
// workspace's exact name, that no image, mount or loop device is left
// (and removes any).
func boundSpec(t *testing.T, r *Runtime, bound int64) warder.WorkloadSpec {
	t.Helper()
	spec := testSpec(t, r)
	name := testenv.UniqueName("wbd-ws-")
	spec.Workspace = &warder.WorkspaceSpec{Name: name, MountPath: warder.WorkspaceMountPath, SizeBytes: bound,
		Labels: map[string]string{warder.LabelWorkspace: r.cfg.Network, warder.LabelAgentID: spec.AgentID}}
	dir := r.bound.dir
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		// The container and any files helper hold the volume.
		r.Remove(ctx, spec.Name)
		if err := r.RemoveHelpers(ctx); err != nil {
			t.Errorf("cleanup: remove helpers: %v", err)
		}
		if err := r.RemoveWorkspace(ctx, name); err != nil {
			t.Errorf("cleanup: remove workspace %s: %v", name, err)
		}
		if dir != nil {
			assertNoFilesystem(t, dir, name)
			dir.Remove(name)
		}
	})
	return spec
}

// assertNoFilesystem fails t if workspace name has an image, a mount (in
// /proc/mounts) or a loop device left.
func assertNoFilesystem(t *testing.T, dir *loopfs.Dir, name string) {
	t.Helper()
	if devs, err := loopfs.LoopDevices(dir.Image(name)); err != nil || len(devs) > 0 {
		t.Errorf("loop devices of workspace %s left: %v (%v)", name, devs, err)
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == dir.MountPoint(name) || strings.HasPrefix(f[1], dir.MountPoint(name)+"/")) {
			t.Errorf("a mount of workspace %s is left: %s", name, line)
		}
	}
	if _, err := os.Lstat(dir.Image(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the image of workspace %s is left (%v)", name, err)
	}
}

// boundRun runs cmd in container id as the agent's user (as an agent's
// own process would), with stdin, and returns its exit code and output.
func boundRun(t *testing.T, r *Runtime, id string, stdin io.Reader, cmd ...string) (int, string) {
	t.Helper()
	code, out, err := boundExec(r, id, stdin, cmd...)
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	return code, out
}

func boundExec(r *Runtime, id string, stdin io.Reader, cmd ...string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	code, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: append([]string{"/warder-agent"}, cmd...), Stdin: stdin},
		func(_ string, p []byte) error { out.Write(p); return nil })
	return code, out.String(), err
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestWorkspaceBoundedByFilesystem: an agent writing 16 MB into its
// 4 MB workspace from inside gets ENOSPC, and the host holds at most
// 4 MB for it; the usage is read with no helper container; removal
// leaves no mount, loop device or image. (Before, the write succeeded:
// only uploads were bounded.)
func TestWorkspaceBoundedByFilesystem(t *testing.T) {
	r := boundRuntime(t, false)
	checkBounded(t, r)
}

// TestWorkspaceBoundedOnPodman is TestWorkspaceBoundedByFilesystem on
// Podman's Docker-compatible API.
func TestWorkspaceBoundedOnPodman(t *testing.T) {
	r := boundRuntime(t, true)
	checkBounded(t, r)
}

func checkBounded(t *testing.T, r *Runtime) {
	const bound = 4 << 20
	spec := boundSpec(t, r, bound)
	name := spec.Workspace.Name
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))

	if code, out := boundRun(t, r, id, strings.NewReader("mine"), "write", "/data/small"); code != 0 {
		t.Fatalf("the agent cannot write its bounded workspace: exit %d: %s", code, out)
	}
	// Podman resets the exec's connection when the process ends with its
	// input unread, as this one does once the disk is full: the bytes
	// that made it are counted below, and the next write must fail.
	code, out, err := boundExec(r, id, io.LimitReader(zeros{}, 4*bound), "write", "/data/big")
	if err != nil && !r.engine.podman {
		t.Fatalf("exec: %v", err)
	}
	if err == nil && (code == 0 || !strings.Contains(out, "no space left on device")) {
		t.Fatalf("writing %d bytes into a %d-byte workspace: exit %d, %q; want ENOSPC", 4*bound, bound, code, out)
	}
	code, out = boundRun(t, r, id, bytes.NewReader(make([]byte, 64<<10)), "write", "/data/more")
	if code == 0 || !strings.Contains(out, "no space left on device") {
		t.Fatalf("writing into a full workspace: exit %d, %q; want ENOSPC", code, out)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(r.bound.dir.Image(name), &st))
	if st.Size != bound || st.Blocks*512 > bound {
		t.Errorf("the workspace's image is %d bytes, %d of them on the host's disk; want %d, at most %d", st.Size, st.Blocks*512, bound, bound)
	}

	since := time.Now()
	used, err := r.WorkspaceUsage(ctx, name)
	if err != nil || used < bound/2 || used > bound {
		t.Errorf("usage of a full %d-byte workspace: %d, %v", bound, used, err)
	}
	if n := helpersCreated(t, r, since); n != 0 {
		t.Errorf("measuring a bounded workspace started %d helper containers", n)
	}
	if code, out := boundRun(t, r, id, nil, "rm", "/data/big"); code != 0 {
		t.Fatalf("rm: exit %d: %s", code, out)
	}
	if code, out := boundRun(t, r, id, strings.NewReader("again"), "write", "/data/after"); code != 0 {
		t.Errorf("the agent cannot write once it has deleted: exit %d: %s", code, out)
	}
	if code, out := boundRun(t, r, id, nil, "cat", "/data/small"); code != 0 || out != "mine" {
		t.Errorf("read back: exit %d, %q", code, out)
	}

	must(t, r.Remove(ctx, id))
	must(t, r.RemoveWorkspace(ctx, name))
	assertNoFilesystem(t, r.bound.dir, name)
}

// TestWorkspaceRemountedAtSetup: a workspace whose mount is gone (as
// after a reboot) cannot be bound to the host directory below it, and a
// new Warder's Setup mounts it again, with its files.
func TestWorkspaceRemountedAtSetup(t *testing.T) {
	r := boundRuntime(t, false)
	spec := boundSpec(t, r, 8<<20)
	name := spec.Workspace.Name
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	if code, out := boundRun(t, r, id, strings.NewReader("kept"), "write", "/data/f"); code != 0 {
		t.Fatalf("write: exit %d: %s", code, out)
	}
	must(t, r.Remove(ctx, id))

	// The reboot: the filesystem is unmounted, its loop device gone.
	dir := r.bound.dir
	must(t, syscall.Unmount(dir.MountPoint(name), 0))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if devs, _ := loopfs.LoopDevices(dir.Image(name)); len(devs) == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("loop devices %v still attached after the unmount", devs)
		}
	}
	if _, err := os.Stat(dir.Data(name)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("with its filesystem unmounted the workspace's directory exists (%v): a bind would reach the host's disk", err)
	}

	// A new Warder on the same engine and directory.
	again, err := New(r.cfg)
	must(t, err)
	defer again.Close()
	must(t, again.Setup(ctx))
	if _, err := os.Stat(dir.Data(name)); err != nil {
		t.Fatalf("Setup did not mount the workspace again: %v", err)
	}
	id, err = again.Create(ctx, spec)
	must(t, err)
	must(t, started(again.Start(ctx, id)))
	if code, out := boundRun(t, again, id, nil, "cat", "/data/f"); code != 0 || out != "kept" {
		t.Fatalf("after the restart: exit %d, %q", code, out)
	}
	if n, err := again.WorkspaceUsage(ctx, name); err != nil || n <= 0 {
		t.Errorf("usage after the restart: %d, %v", n, err)
	}
}

// TestWorkspacePlainVolumeKept: a workspace made as a plain volume
// before workspaces were bounded keeps working as it did (unbounded,
// measured by a helper).
func TestWorkspacePlainVolumeKept(t *testing.T) {
	r := boundRuntime(t, false)
	spec := boundSpec(t, r, 1<<20)
	ctx := context.Background()
	cfg := r.cfg
	cfg.WorkspaceDir = ""
	plain, err := New(cfg)
	must(t, err)
	defer plain.Close()
	id, err := plain.Create(ctx, spec)
	must(t, err)
	must(t, plain.Remove(ctx, id))
	id, err = r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	if r.bound.dir.Has(spec.Workspace.Name) {
		t.Fatal("an existing plain volume was given a filesystem")
	}
	if code, out := boundRun(t, r, id, io.LimitReader(zeros{}, 2<<20), "write", "/data/big"); code != 0 {
		t.Fatalf("writing into a plain volume: exit %d: %s", code, out)
	}
	if n, err := r.WorkspaceUsage(ctx, spec.Workspace.Name); err != nil || n < 2<<20 {
		t.Errorf("usage of a plain volume: %d, %v", n, err)
	}
}

// TestWorkspaceFilesystemFoundFromVolume: a Warder configured without
// (or with another) workspace directory still measures a bounded
// workspace from its filesystem, with no helper, and removes it whole,
// as the tests' and operators' clean-ups by name do.
func TestWorkspaceFilesystemFoundFromVolume(t *testing.T) {
	r := boundRuntime(t, false)
	spec := boundSpec(t, r, 2<<20)
	ctx := context.Background()
	if _, err := r.ensureVolume(ctx, spec.Workspace); err != nil {
		t.Fatal(err)
	}
	cfg := r.cfg
	cfg.WorkspaceDir = ""
	other, err := New(cfg)
	must(t, err)
	defer other.Close()
	since := time.Now()
	if n, err := other.WorkspaceUsage(ctx, spec.Workspace.Name); err != nil || n != 0 {
		t.Errorf("usage of an empty bounded workspace: %d, %v", n, err)
	}
	if n := helpersCreated(t, r, since); n != 0 {
		t.Errorf("%d helper containers measuring a bounded workspace", n)
	}
	must(t, other.RemoveWorkspace(ctx, spec.Workspace.Name))
	assertNoFilesystem(t, r.bound.dir, spec.Workspace.Name)
}

// TestBoundedWorkspaceDirect: a bounded workspace is read and written in
// Warder's process from its filesystem's mount (no files helper), and as
// safely as the helper: links the agent made, at the top and deep down,
// to the container's root and to /etc, are archived as links and never
// followed; a FIFO and a device node are left out (a FIFO is not waited
// on); it reads as the agent's user (a root-owned file the agent cannot
// read is left out); an upload is the agent's, and one through a link
// is refused and writes nothing.
func TestBoundedWorkspaceDirect(t *testing.T) {
	r := boundRuntime(t, false)
	spec := boundSpec(t, r, 64<<20)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	agentDo(t, r, id, "mkdir", "/data/docs/deep/er")
	agentDo(t, r, id, "write", "/data/docs/deep/er/f.txt")
	agentDo(t, r, id, "ln", "/", "/data/escape")
	agentDo(t, r, id, "ln", "/etc", "/data/docs/deep/er/etc")
	agentDo(t, r, id, "ln", "/etc/hostname", "/data/docs/hostname")
	data, err := r.bound.dir.DataPath(spec.Workspace.Name)
	must(t, err)
	must(t, syscall.Mkfifo(filepath.Join(data, "docs", "fifo"), 0o666))
	must(t, syscall.Mknod(filepath.Join(data, "docs", "null"), syscall.S_IFCHR|0o666, 1<<8|3))
	must(t, os.WriteFile(filepath.Join(data, "secret"), []byte("mine"), 0o000))

	since := time.Now()
	rc, err := r.ReadTar(ctx, id, "")
	must(t, err)
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		switch h.Typeflag {
		case tar.TypeSymlink:
			got[h.Name] = "-> " + h.Linkname
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			must(t, err)
			got[h.Name] = string(b)
		case tar.TypeDir:
			got[h.Name] = "dir"
		default:
			got[h.Name] = fmt.Sprintf("type %c", h.Typeflag)
		}
	}
	must(t, rc.Close())
	want := map[string]string{
		"data/": "dir", "data/docs/": "dir", "data/docs/deep/": "dir", "data/docs/deep/er/": "dir",
		"data/docs/deep/er/f.txt": "by the agent", "data/docs/deep/er/etc": "-> /etc",
		"data/escape": "-> /", "data/docs/hostname": "-> /etc/hostname",
	}
	if !maps.Equal(got, want) {
		t.Errorf("the whole workspace's tar:\n%v\nwant\n%v", got, want)
	}
	if got := readOne(t, must2(r.ReadTar(ctx, id, "docs/deep/er/f.txt"))); got != "by the agent" {
		t.Errorf("one file read: %q", got)
	}
	for _, p := range []string{"docs/hostname", "escape/etc/hostname", "docs/deep/er/etc/hostname"} {
		if _, err := r.ReadTar(ctx, id, p); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("reading %s: %v, want ErrInvalid", p, err)
		}
	}
	if rc, err := r.ReadTar(ctx, id, "secret"); err == nil {
		if h, err := tar.NewReader(rc).Next(); err != io.EOF {
			t.Errorf("reading a file the agent cannot read gave %+v, %v; want an empty tar", h, err)
		}
		rc.Close()
	}

	// Written: the agent's, like what it wrote itself.
	must(t, r.WriteTar(ctx, id, "up", oneFile("a/b.txt", "uploaded")))
	var mine, made syscall.Stat_t
	must(t, syscall.Lstat(filepath.Join(data, "docs", "deep", "er", "f.txt"), &mine))
	must(t, syscall.Lstat(filepath.Join(data, "up", "a", "b.txt"), &made))
	// (What an exec makes has the exec's own marker gid, exec.go.)
	if made.Uid != mine.Uid || made.Gid != 65534 || mine.Uid != 65534 {
		t.Errorf("an upload is owned by %d:%d, the agent's own file by %d:%d; want the agent's user, 65534:65534", made.Uid, made.Gid, mine.Uid, mine.Gid)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "up", "a", "b.txt")); string(b) != "uploaded" {
		t.Errorf("the upload holds %q", b)
	}
	for _, name := range []string{"escape/tmp/x", "docs/deep/er/etc/x"} {
		if err := r.WriteTar(ctx, id, "", oneFile(name, "owned")); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("upload of %s: %v, want ErrInvalid", name, err)
		}
	}
	// Written as the agent's user: not into a directory it cannot write.
	must(t, os.Mkdir(filepath.Join(data, "rootdir"), 0o755))
	if err := r.WriteTar(ctx, id, "rootdir", oneFile("x", "y")); !errors.Is(err, warder.ErrConflict) {
		t.Errorf("an upload into a root-owned directory: %v, want ErrConflict", err)
	}
	if _, err := os.Stat(filepath.Join(data, "rootdir", "x")); err == nil {
		t.Error("the upload wrote into a root-owned directory")
	}
	for _, p := range []string{"/etc/x", "/tmp/x"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written on the host", p)
		}
	}
	if n := helpersCreated(t, r, since); n != 0 {
		t.Errorf("reading and writing a bounded workspace started %d helper containers", n)
	}
}
