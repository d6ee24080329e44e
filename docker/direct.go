package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/warder/warder/internal/fsat"
	"github.com/warder/warder/internal/fsop"
)

// A bounded workspace's file operations in Warder's own process.
//
// A bounded workspace is a filesystem Warder mounted on the host
// (boundedws.go), so the files API's operations on it (stat, list, tar,
// untar, rm) run here, at the disk's speed, with no files helper
// container and no exec stream through the engine: a 107 MB workspace
// reads in about 0.4 s this way against 1.2 s through the helper, which
// is what snapshots, restores and forks spend their time on
// (docs/snapshots.md). A plain volume still goes through the helper.
//
// It is as safe as the helper, and reaches no more:
//   - every name is resolved by package fsat from the workspace's own
//     descriptor with O_NOFOLLOW, the same code the helper runs: a link
//     the agent makes at any depth and at any moment is archived as a
//     link, or refused on the way, never followed; files are opened
//     non-blocking and whatever is not a regular file or directory is
//     left out, so a FIFO is never waited on; the filesystem is the
//     workspace's alone, so no hard link in it reaches a file of the host.
//   - the work runs on an OS thread of its own whose filesystem identity
//     (setfsuid, setfsgid, no supplementary groups) is the agent's user,
//     as the helper's process is: the kernel checks every access as that
//     user (a change of fsuid from 0 drops the thread's file
//     capabilities), and what it makes is the agent's. The thread is
//     never handed back to the Go runtime (it ends with its goroutine).

// directSlots bounds the operations running here at once: a walk holds a
// descriptor per level (up to fsat.MaxDepth), so an agent's deeply
// nested tree, read by many calls at once, must not take the descriptors
// the API needs. The slots let such walks hold at most a quarter of the
// process's descriptor limit; a call that finds none free goes through
// the files helper, as a plain volume's does.
var directSlots = func() chan struct{} {
	n := 16
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
		n = min(n, max(1, int(lim.Cur/4)/(fsat.MaxDepth+16)))
	}
	return make(chan struct{}, n)
}()

// directWS is a bounded workspace open here: its root and the identity
// to act as.
type directWS struct {
	root     *os.File
	uid, gid int
}

// directWorkspace opens workspace volume here, to be used as user (the
// container's, as fsTarget gives it), or returns nil where it cannot: a
// plain volume, a filesystem of another directory's, one not mounted,
// or Warder not beside the engine. The caller must call fsop, which
// closes it.
func (r *Runtime) directWorkspace(ctx context.Context, volume, user string) *directWS {
	dir, err := r.boundedDir(ctx)
	if err != nil || dir == nil || !dir.Has(volume) {
		return nil
	}
	path, err := dir.DataPath(volume)
	if err != nil {
		return nil // the helper says what is wrong, or works
	}
	select {
	case directSlots <- struct{}{}:
	default:
		return nil // busy: the helper takes this one
	}
	root, err := fsat.OpenRoot(path)
	if err != nil {
		<-directSlots
		return nil
	}
	ws := &directWS{root: root}
	if user != "" {
		ws.uid, ws.gid, _ = numericIDs(user)
		return ws
	}
	// A user only the image names: the workspace root's owner, as the
	// helper's fsop -as-owner takes on.
	var st unix.Stat_t
	if err := unix.Fstat(int(root.Fd()), &st); err != nil {
		ws.close()
		return nil
	}
	ws.uid, ws.gid = int(st.Uid), int(st.Gid)
	if ws.uid == 0 {
		ws.uid, ws.gid = 65534, 65534
	}
	return ws
}

// fsop runs c as warder-agent's fsop would in the helper, with the same
// package's operations, as the agent's user; its errors are the
// helper's (fsError). A ctx that ends stops an upload at its next read
// and a download at its next write (streamFsop closes the pipe).
func (ws *directWS) fsop(ctx context.Context, c fsopCall) error {
	defer ws.close()
	if len(c.args) < 3 {
		return fmt.Errorf("fsop %v: too few arguments", c.args)
	}
	op, rel := c.args[0], c.args[2]
	err := ws.asAgent(func() error {
		switch op {
		case "stat":
			e, err := fsat.Stat(ws.root, rel)
			if err != nil {
				return err
			}
			return json.NewEncoder(c.stdout).Encode(e)
		case "list":
			limit := 1000
			if len(c.args) > 3 {
				limit, _ = strconv.Atoi(c.args[3])
			}
			return fsat.List(ws.root, rel, limit, c.stdout)
		case "tar":
			bw := bufio.NewWriterSize(c.stdout, 1<<20)
			if err := fsat.Tar(ws.root, rel, bw); err != nil {
				return err
			}
			return bw.Flush()
		case "untar":
			return fsat.Untar(ws.root, rel, ctxReader{ctx, c.stdin})
		case "rm":
			return fsat.Remove(ws.root, rel)
		}
		return fmt.Errorf("fsop: unknown operation %q", op)
	})
	return fsError(err, c.notDir)
}

// close releases the root and the slot.
func (ws *directWS) close() {
	ws.root.Close()
	<-directSlots
}

// asAgent runs fn on a locked OS thread of its own acting, for the
// filesystem, as the agent's user; root agents' work runs as root.
func (ws *directWS) asAgent(fn func() error) error {
	if ws.uid == 0 {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread's identity is changed for good, so it
		// goes when this goroutine ends instead of running anything else.
		runtime.LockOSThread()
		done <- func() error {
			// Per thread: x/sys/unix calls the system calls themselves (the
			// syscall package's would change every thread of the process).
			if err := unix.Setgroups(nil); err != nil {
				return fmt.Errorf("dropping supplementary groups: %w", err)
			}
			unix.Setfsgid(ws.gid)
			unix.Setfsuid(ws.uid)
			if got, _ := unix.SetfsgidRetGid(-1); got != ws.gid {
				return fmt.Errorf("setfsgid %d took %d", ws.gid, got)
			}
			if got, _ := unix.SetfsuidRetUid(-1); got != ws.uid {
				return fmt.Errorf("setfsuid %d took %d", ws.uid, got)
			}
			return fn()
		}()
	}()
	return <-done
}

// fsError is err as the files API reports it: fsat's kinds mapped as
// fsop's exit codes are, notDir being what a "not a directory" is for
// the call.
func fsError(err error, notDir error) error {
	if err == nil {
		return nil
	}
	if mapped := fsop.Err(fsat.Code(err), err.Error(), notDir); mapped != nil {
		return mapped
	}
	return err
}

// ctxReader stops reading once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
