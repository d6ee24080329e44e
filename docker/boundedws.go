package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/loopfs"
)

// Workspaces bounded by the filesystem.
//
// Docker's local volume driver has no size for a disk-backed volume, so
// each workspace gets a filesystem of its own of exactly the bound's size
// (internal/loopfs: a sparse ext4 image, loop-mounted by Warder on the
// host, nosuid and nodev), and its volume is the local driver's bind of
// the workspace directory inside that filesystem (type none, o bind,
// device <dir>/mnt/<name>/data). Agents, the warm pool, the files
// helpers, Docker and Podman alike then see a filesystem that cannot grow
// past its size: a write beyond it fails with ENOSPC, whoever makes it.
// Usage is one statfs, no helper.
//
// Project quotas on one shared filesystem were not chosen: a file's
// owner in the init user namespace (an agent's uid, as Docker runs
// containers without user namespaces) may give its files another
// project id (FS_IOC_FSSETXATTR, an ioctl Docker's default seccomp
// profile allows) and so leave the quota; and kernels built without
// quota formats (this project's CI machine: no CONFIG_QFMT_V2, no
// CONFIG_XFS_QUOTA) cannot mount such a filesystem at all.
//
// It needs Warder to be root on the engine's host, with the engine a
// process it can see (a unix socket; SO_PEERCRED) that sees the
// workspace directory; the filesystems are mounted in the engine's own
// mount namespace. Otherwise workspaces stay plain volumes, bounded
// only on uploads, and Setup says so once.

// wsBound is whether, and where, workspaces are bounded filesystems:
// decided once the engine has answered (see bounded).
type wsBound struct {
	mu      sync.Mutex
	decided bool
	dir     *loopfs.Dir // nil: plain volumes
	why     string      // why not, when dir is nil
	// others are directories, not this runtime's, that volumes bind
	// filesystems of (another WARDER_WORKSPACE_DIR, or a replica's).
	others map[string]*loopfs.Dir
}

// WorkspaceBound reports whether workspaces are filesystems of a bounded
// size, and if not why not; ok is false too until Setup has decided.
func (r *Runtime) WorkspaceBound() (ok bool, why string) {
	r.bound.mu.Lock()
	defer r.bound.mu.Unlock()
	if !r.bound.decided {
		return false, "not decided yet: the engine has not answered"
	}
	return r.bound.dir != nil, r.bound.why
}

// boundedDir is the directory of workspace filesystems, nil when
// workspaces are plain volumes. The first call that reaches the engine
// decides, and logs the outcome.
func (r *Runtime) boundedDir(ctx context.Context) (*loopfs.Dir, error) {
	b := &r.bound
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.decided {
		return b.dir, nil
	}
	why := ""
	switch {
	case r.cfg.WorkspaceDir == "":
		why = "WARDER_WORKSPACE_DIR is off"
	case loopfs.Available() != nil:
		why = loopfs.Available().Error()
	default:
		pid, reason, err := r.enginePid(ctx)
		if err != nil {
			return nil, err // undecided: the next call asks again
		}
		if pid == 0 {
			why = reason
			break
		}
		dir, err := loopfs.Open(r.cfg.WorkspaceDir)
		if err != nil {
			return nil, fmt.Errorf("workspace directory (WARDER_WORKSPACE_DIR): %w", err)
		}
		if !dir.SharedWith(pid) {
			why = "the engine does not see WARDER_WORKSPACE_DIR " + dir.Root() + " (it runs in a container?)"
			break
		}
		if err := dir.InNamespaceOf(pid); err != nil {
			return nil, err
		}
		b.dir = dir
	}
	b.decided, b.why = true, why
	if b.dir != nil {
		r.log.Info("workspaces are filesystems of their bound's size: a write past it fails", "dir", b.dir.Root())
	} else {
		r.log.Warn("workspaces are NOT bounded by the filesystem: an agent can fill the host's disk by writing to /data; "+
			"only uploads are checked. Run Warder as root beside a local engine with WARDER_WORKSPACE_DIR set (the default, <data dir>/workspaces) to bound them",
			"why", why)
	}
	return b.dir, nil
}

// enginePid is the engine's process id, 0 (and why) when the engine is
// not a process of this host that Warder can see: reached on a unix
// socket, whose server SO_PEERCRED names in Warder's PID namespace.
// Filesystems are mounted in that process's mount namespace, so the
// engine sees them whether or not it shares Warder's.
func (r *Runtime) enginePid(ctx context.Context) (int, string, error) {
	host := r.cli.DaemonHost()
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return 0, "the engine (" + host + ") is not on a local unix socket", nil
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return 0, "", mapErr(err, "reach the engine")
	}
	defer conn.Close()
	raw, err := conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, "", err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, "", errors.Join(err, cerr)
	}
	if cred.Pid == 0 {
		return 0, "the engine runs in another PID namespace than Warder (Warder in a container?)", nil
	}
	return int(cred.Pid), "", nil
}

// mountWorkspaces, at Setup, mounts every workspace filesystem whose
// mount is gone (after a reboot), before agents are started on them, and
// removes an image left without a volume (a create cut short).
func (r *Runtime) mountWorkspaces(ctx context.Context) error {
	dir, err := r.boundedDir(ctx)
	if dir == nil || err != nil {
		return err
	}
	// The engine may have been restarted since (a new process, perhaps
	// in a new namespace).
	if pid, _, err := r.enginePid(ctx); err != nil {
		return err
	} else if pid != 0 {
		if err := dir.InNamespaceOf(pid); err != nil {
			return err
		}
	}
	volumes := map[string]bool{}
	for _, label := range []string{warder.LabelWorkspace + "=" + r.cfg.Network, warder.LabelPool + "=" + r.cfg.Network} {
		res, err := r.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", label)})
		if err != nil {
			return mapErr(err, "list volumes")
		}
		for _, v := range res.Items {
			volumes[v.Name] = true
		}
	}
	names, err := dir.Names()
	if err != nil {
		return err
	}
	// One image that fails (a damaged one) is logged, not Setup's
	// failure: its agent's start fails, the others' do not.
	for _, name := range names {
		if !volumes[name] && orphaned(dir, name) {
			_, err := r.cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
			if isNotFound(err) {
				if err := r.dropImage(dir, name); err != nil {
					r.log.Error("removing a workspace filesystem left without its volume", "volume", name, "err", err)
				}
				continue
			}
		}
		if err := dir.Mount(name); err != nil {
			r.log.Error("mounting a workspace's filesystem", "volume", name, "err", err)
		}
	}
	return nil
}

// orphaned reports whether an image is old enough that no create is
// still between making it and making its volume.
func orphaned(dir *loopfs.Dir, name string) bool {
	fi, err := os.Stat(dir.Image(name))
	return err == nil && time.Since(fi.ModTime()) > 10*time.Minute
}

// boundedVolume makes ws's volume a bind of a new filesystem of size
// bytes; if the volume cannot be made the filesystem goes too.
func (r *Runtime) boundedVolume(ctx context.Context, dir *loopfs.Dir, ws *warder.WorkspaceSpec, size int64) error {
	data, err := dir.Make(ws.Name, size)
	if err != nil {
		return fmt.Errorf("making workspace %s's filesystem: %w", ws.Name, err)
	}
	_, err = r.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: ws.Name, Driver: "local", Labels: ws.Labels,
		DriverOpts: map[string]string{"type": "none", "o": "bind", "device": data}})
	if err != nil {
		if rerr := dir.Remove(ws.Name); rerr != nil {
			r.log.Error("removing the filesystem of a workspace whose volume could not be made", "volume", ws.Name, "err", rerr)
		}
		return mapErr(err, "create volume "+ws.Name)
	}
	return nil
}

// filesystemOf is the directory of volume name's filesystem: the one
// its options name, else this runtime's own (an image whose volume was
// never made), nil for neither.
func (r *Runtime) filesystemOf(ctx context.Context, name string) (*loopfs.Dir, error) {
	opts, err := r.volumeOptions(ctx, name)
	if errors.Is(err, warder.ErrNotFound) {
		return r.boundedDir(ctx)
	}
	if err != nil {
		return nil, err
	}
	if dir, err := r.volumeDir(ctx, name, opts); dir != nil || err != nil {
		return dir, err
	}
	return r.boundedDir(ctx)
}

// dropImage removes name's filesystem, if it has one; the volume that
// bound it is gone already.
func (r *Runtime) dropImage(dir *loopfs.Dir, name string) error {
	if dir == nil || !dir.Has(name) {
		return nil
	}
	if err := dir.Remove(name); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return warder.Errorf(warder.ErrConflict, "workspace %s is still in use: %v", name, err)
		}
		return fmt.Errorf("removing workspace %s's filesystem: %w", name, err)
	}
	return nil
}

// volumeDir is the directory holding the filesystem volume name binds
// (its options, from an inspect), nil for a plain volume. It is read
// from the volume, not the configuration, so a workspace made under
// another WARDER_WORKSPACE_DIR, or by a replica with its own, or by a
// Warder run without it, is measured and removed all the same.
func (r *Runtime) volumeDir(ctx context.Context, name string, opts map[string]string) (*loopfs.Dir, error) {
	dev := opts["device"]
	mp := filepath.Dir(dev)
	if opts["o"] != "bind" || filepath.Base(dev) != loopfs.DataDir || filepath.Base(mp) != name || filepath.Base(filepath.Dir(mp)) != "mnt" {
		return nil, nil
	}
	root := filepath.Dir(filepath.Dir(mp))
	own, err := r.boundedDir(ctx)
	if err != nil {
		return nil, err
	}
	if own != nil && own.Root() == root {
		return own, nil
	}
	b := &r.bound
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.others[root]; d != nil {
		return d, nil
	}
	if _, err := os.Stat(filepath.Join(root, name+".img")); err != nil {
		return nil, nil // not a workspace image: some other bind
	}
	d, err := loopfs.Open(root)
	if err != nil {
		return nil, err
	}
	pid, _, err := r.enginePid(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.InNamespaceOf(pid); err != nil {
		return nil, err
	}
	if b.others == nil {
		b.others = map[string]*loopfs.Dir{}
	}
	b.others[root] = d
	return d, nil
}

// boundedUsage is the usage of volume's filesystem; ok is false when it
// has none (a plain volume). opts are the volume's options, nil if not
// inspected: then only this runtime's own directory is looked in.
func (r *Runtime) boundedUsage(ctx context.Context, volume string, opts map[string]string) (n int64, ok bool, err error) {
	dir, err := r.boundedDir(ctx)
	if err != nil {
		return 0, false, err
	}
	if dir == nil || !dir.Has(volume) {
		if opts == nil {
			return 0, false, nil
		}
		if dir, err = r.volumeDir(ctx, volume, opts); dir == nil || err != nil {
			return 0, false, err
		}
	}
	n, err = dir.Usage(volume)
	if err != nil && dir.Mount(volume) == nil { // its mount gone since Setup
		n, err = dir.Usage(volume)
	}
	return n, true, err
}
