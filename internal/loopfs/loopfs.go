// Package loopfs keeps one size-bounded filesystem per workspace: a
// sparse image file formatted ext4 of exactly the bound's size and
// loop-mounted on the host (nosuid, nodev, discard). A write past the
// size fails in the filesystem itself (ENOSPC), whoever makes it and
// however (an agent's own process, an upload, a helper), and the host's
// disk holds at most the image's size for it. Usage is read from the
// filesystem's own accounting (statfs), not by walking the files.
//
// A Dir holds, for a workspace called name:
//
//	<dir>/<name>.img         the image (0600)
//	<dir>/mnt/<name>/        its mount point
//	<dir>/mnt/<name>/data/   the workspace itself: what a container sees
//
// The workspace is a directory inside the filesystem, not its root, so
// that it exists only while the filesystem is mounted: a bind of it made
// when the image is not mounted (after a reboot, before Start-up mounts
// it again) fails rather than binding the host directory under it, and
// the filesystem's lost+found stays out of the agent's sight.
//
// Making, mounting and removing a filesystem needs root on the host that
// runs the containers (Available); reading usage needs nothing.
package loopfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// DataDir is the workspace's directory inside its filesystem.
const DataDir = "data"

// baseAttr, on the filesystem's root, is the bytes the empty filesystem
// used, measured right after it was made: Usage subtracts them.
const baseAttr = "trusted.warder.base"

// bytesPerInode sizes the inode table: one inode per 8 KiB, twice the
// default's, since agents' workspaces (source trees, node_modules) hold
// many small files.
const bytesPerInode = "8192"

// MinBytes is the smallest filesystem Make makes; ext4 needs some room
// for its own structures.
const MinBytes = 512 << 10

// Dir is a directory of workspace images. Its methods are safe for
// concurrent use within one process.
type Dir struct {
	root string
	mu   sync.Mutex // serialises making, mounting and removing
	// proc is "" or, for filesystems mounted in another process's mount
	// namespace (InNamespaceOf), "/proc/<pid>": mounts and unmounts run
	// there, and paths are looked at through its root.
	proc string
}

// InNamespaceOf makes d mount its filesystems in the mount namespace of
// process pid (a container engine's own, when it is not this process's),
// so the engine sees them; pid 0 or a process in this namespace: here.
// Call it before using d, and again should the engine be replaced.
func (d *Dir) InNamespaceOf(pid int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.proc = ""
	if pid == 0 {
		return nil
	}
	proc := "/proc/" + strconv.Itoa(pid)
	theirs, err := os.Readlink(proc + "/ns/mnt")
	if err != nil {
		return err
	}
	if ours, err := os.Readlink("/proc/self/ns/mnt"); err != nil || ours != theirs {
		d.proc = proc
	}
	return nil
}

// SharedWith reports whether process pid sees d's directory itself (the
// same directory, not another of the same name), so images made here can
// be mounted there.
func (d *Dir) SharedWith(pid int) bool {
	var ours, theirs syscall.Stat_t
	if syscall.Stat(d.root, &ours) != nil || syscall.Stat("/proc/"+strconv.Itoa(pid)+"/root"+d.root, &theirs) != nil {
		return false
	}
	return ours.Dev == theirs.Dev && ours.Ino == theirs.Ino
}

// view is path as the namespace d mounts in sees it.
func (d *Dir) view(path string) string {
	if d.proc == "" {
		return path
	}
	return d.proc + "/root" + path
}

// inNS runs a tool in the namespace d mounts in.
func (d *Dir) inNS(name string, args ...string) error {
	if d.proc == "" {
		return run(name, args...)
	}
	return run("nsenter", append([]string{"--mount=" + d.proc + "/ns/mnt", "--", name}, args...)...)
}

// Available reports why this process cannot make and mount filesystems
// (nil: it can): it must be root and find mkfs.ext4, mount and the loop
// devices' control file.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("Warder does not run as root, so it cannot mount filesystems")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (Debian: e2fsprogs, mount, util-linux)", tool)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("no loop devices: %v", err)
	}
	return nil
}

// Open returns the Dir at root (made absolute, since a container
// engine is given paths below it), making it if needed, readable by
// root only.
func Open(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, "mnt"), 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, err
	}
	return &Dir{root: abs}, nil
}

// Root is the directory's absolute path.
func (d *Dir) Root() string { return d.root }

// Image is the path of name's image file.
func (d *Dir) Image(name string) string { return filepath.Join(d.root, name+".img") }

// MountPoint is where name's filesystem is mounted.
func (d *Dir) MountPoint(name string) string { return filepath.Join(d.root, "mnt", name) }

// Data is the workspace directory of name, inside its filesystem: what
// a container's volume binds.
func (d *Dir) Data(name string) string { return filepath.Join(d.MountPoint(name), DataDir) }

// ValidName reports whether name can name an image: a container
// engine's volume name ([A-Za-z0-9][A-Za-z0-9_.-]*), so it never leaves
// the directory.
func ValidName(name string) bool {
	if name == "" || len(name) > 200 {
		return false
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// Has reports whether name has an image here.
func (d *Dir) Has(name string) bool {
	if !ValidName(name) {
		return false
	}
	_, err := os.Lstat(d.Image(name))
	return err == nil
}

// Names lists the workspaces with an image here.
func (d *Dir) Names() ([]string, error) {
	ents, err := os.ReadDir(d.root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".img"); ok && e.Type().IsRegular() && ValidName(name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Make gives name a filesystem of size bytes (rounded down to 4 KiB, at
// least MinBytes), mounted, with its empty workspace directory, and
// returns that directory. An image that exists already is kept as it is
// (whatever its size) and mounted if it is not. A failed Make leaves
// nothing.
func (d *Dir) Make(name string, size int64) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("workspace name %q cannot name an image", name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := os.Lstat(d.Image(name)); err == nil {
		return d.Data(name), d.mount(name)
	}
	size = max(size&^4095, MinBytes)
	if err := d.format(name, size); err != nil {
		os.Remove(d.Image(name))
		return "", err
	}
	if err := d.mount(name); err != nil {
		d.remove(name)
		return "", err
	}
	return d.Data(name), nil
}

// format writes name's sparse image and makes the filesystem in it: no
// blocks reserved for root, the inode table sized by bytesPerInode, and
// nothing written that a sparse file already reads as zero.
func (d *Dir) format(name string, size int64) error {
	f, err := os.OpenFile(d.Image(name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = run("mkfs.ext4", "-q", "-F", "-m", "0", "-i", bytesPerInode, "-E", "assume_storage_prezeroed=1,nodiscard,root_owner=0:0", d.Image(name))
	if err != nil && strings.Contains(err.Error(), "assume_storage_prezeroed") {
		// e2fsprogs before 1.47: the same, with the zeroing left lazy.
		err = run("mkfs.ext4", "-q", "-F", "-m", "0", "-i", bytesPerInode, "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0", d.Image(name))
	}
	return err
}

// Mount mounts name's filesystem if it is not mounted; one without an
// image is an error satisfying errors.Is(err, os.ErrNotExist).
func (d *Dir) Mount(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("workspace name %q cannot name an image: %w", name, os.ErrNotExist)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := os.Lstat(d.Image(name)); err != nil {
		return err
	}
	return d.mount(name)
}

// mount mounts name's image (the loop device is set up by mount(8),
// with autoclear, so unmounting releases it), then makes the workspace
// directory and records the empty filesystem's usage the first time.
func (d *Dir) mount(name string) error {
	if err := os.Mkdir(d.MountPoint(name), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	mounted, err := d.mounted(name)
	if err != nil || mounted {
		return err
	}
	if err := d.inNS("mount", "-t", "ext4", "-o", "loop,nosuid,nodev,discard", d.Image(name), d.MountPoint(name)); err != nil {
		return err
	}
	mp := d.view(d.MountPoint(name))
	if err := os.Chmod(mp, 0o700); err != nil {
		return err
	}
	if _, err := syscall.Getxattr(mp, baseAttr, make([]byte, 32)); err == nil {
		return nil // made before
	}
	if err := os.Mkdir(d.view(d.Data(name)), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	used, err := fsUsed(mp)
	if err != nil {
		return err
	}
	return syscall.Setxattr(mp, baseAttr, []byte(strconv.FormatInt(used, 10)), 0)
}

// mounted reports whether a filesystem is mounted on name's mount
// point: whether it is on another device than the directory above it.
func (d *Dir) mounted(name string) (bool, error) {
	var above, mp syscall.Stat_t
	if err := syscall.Stat(d.view(filepath.Join(d.root, "mnt")), &above); err != nil {
		return false, err
	}
	if err := syscall.Stat(d.view(d.MountPoint(name)), &mp); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, err
	}
	return mp.Dev != above.Dev, nil
}

// DataPath is the path, as this process reaches it, of name's workspace
// directory in its mounted filesystem (what the volume binds); an error
// when name has no image or its filesystem is not mounted.
func (d *Dir) DataPath(name string) (string, error) {
	if !d.Has(name) {
		return "", fmt.Errorf("workspace %s has no image: %w", name, os.ErrNotExist)
	}
	if ok, err := d.mounted(name); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("the filesystem of workspace %s is not mounted", name)
		}
		return "", err
	}
	return d.view(d.Data(name)), nil
}

// MountAll mounts every image here that is not mounted (after a reboot,
// none is), so their workspaces can be bound again.
func (d *Dir) MountAll() error {
	names, err := d.Names()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := d.Mount(name); err != nil {
			errs = append(errs, fmt.Errorf("mounting workspace %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Usage is the bytes name's files use, from the filesystem's own
// accounting (one statfs): its used blocks less the empty filesystem's.
// No image is an error satisfying errors.Is(err, os.ErrNotExist).
func (d *Dir) Usage(name string) (int64, error) {
	if !d.Has(name) {
		return 0, fmt.Errorf("workspace %s has no image: %w", name, os.ErrNotExist)
	}
	mp := d.view(d.MountPoint(name))
	if ok, err := d.mounted(name); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("the filesystem of workspace %s is not mounted", name)
		}
		return 0, err
	}
	used, err := fsUsed(mp)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 32)
	n, err := syscall.Getxattr(mp, baseAttr, buf)
	if err != nil {
		return 0, fmt.Errorf("reading workspace %s's base usage: %w", name, err)
	}
	base, _ := strconv.ParseInt(string(buf[:n]), 10, 64)
	return max(used-base, 0), nil
}

// fsUsed is the bytes the filesystem at path uses now, delayed
// allocations included.
func fsUsed(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, nil
}

// Remove unmounts name's filesystem, detaches its loop device and
// deletes its image and mount point. A filesystem still in use (a
// container's volume binds it) is syscall.EBUSY and left as it is. One
// already gone is success.
func (d *Dir) Remove(name string) error {
	if !ValidName(name) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remove(name)
}

func (d *Dir) remove(name string) error {
	mounted, err := d.mounted(name)
	if err != nil {
		return err
	}
	if mounted {
		// Another mount of the filesystem (a container engine's bind of
		// the workspace) would keep it, and the image's blocks, alive.
		if n, err := d.mountsOf(d.MountPoint(name)); err != nil {
			return err
		} else if n > 1 {
			return fmt.Errorf("workspace %s is still mounted elsewhere (%d mounts): %w", name, n, syscall.EBUSY)
		}
		if err := d.inNS("umount", d.MountPoint(name)); err != nil {
			return fmt.Errorf("unmounting workspace %s: %w", name, err)
		}
	}
	if err := detach(d.Image(name)); err != nil {
		return err
	}
	if err := os.Remove(d.Image(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(d.MountPoint(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// run runs a tool, its output (if it fails) in the error.
func run(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}
