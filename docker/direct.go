package docker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/fsat"
	"github.com/warder/warder/internal/fsop"
)

// Reading and writing a bounded workspace in Warder's own process.
//
// A bounded workspace is a filesystem Warder mounted on the host
// (boundedws.go), so its files can be read and written from here at the
// disk's speed, with no files helper and no exec stream through the
// engine: a 107 MB workspace reads in about 0.4 s this way against 1.2 s
// through the helper, which is what snapshots, restores and forks spend
// their time on (docs/snapshots.md).
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

// directWS is a bounded workspace open here: its root and the identity
// to act as.
type directWS struct {
	root     *os.File
	uid, gid int
}

// directWorkspace opens agent container id's workspace here, or returns
// nil (and no error) where it cannot: a plain volume, a filesystem of
// another directory's, one not mounted, or Warder not beside the engine.
// The caller must call readTar or writeTar, which close it.
func (r *Runtime) directWorkspace(ctx context.Context, id string) (*directWS, error) {
	dir, err := r.boundedDir(ctx)
	if err != nil || dir == nil {
		return nil, nil
	}
	user, volume, err := r.containerUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if volume == "" || !dir.Has(volume) {
		return nil, nil // the helper path says what is wrong, or works
	}
	path, err := dir.DataPath(volume)
	if err != nil {
		return nil, nil
	}
	root, err := fsat.OpenRoot(path)
	if err != nil {
		return nil, nil
	}
	ws := &directWS{root: root}
	if user != "" {
		ws.uid, ws.gid, _ = numericIDs(user)
	} else {
		// A user only the image names: the workspace root's owner, as the
		// helper's fsop -as-owner takes on.
		var st unix.Stat_t
		if err := unix.Fstat(int(root.Fd()), &st); err != nil {
			root.Close()
			return nil, err
		}
		ws.uid, ws.gid = int(st.Uid), int(st.Gid)
		if ws.uid == 0 {
			ws.uid, ws.gid = 65534, 65534
		}
	}
	return ws, nil
}

// readTar streams rel as a tar (fsat.Tar), read as the agent's user.
func (ws *directWS) readTar(ctx context.Context, rel string) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	go func() {
		defer ws.root.Close()
		err := ws.asAgent(func() error {
			bw := bufio.NewWriterSize(pw, 1<<20)
			if err := fsat.Tar(ws.root, rel, bw); err != nil {
				return err
			}
			return bw.Flush()
		})
		pw.CloseWithError(fsError(err, warder.ErrInvalid))
	}()
	// The first byte, or the error that there is none (rel missing, a
	// link, unreadable), before the caller is answered.
	br := bufio.NewReaderSize(pr, 32<<10)
	if _, err := br.Peek(1); err != nil {
		stop()
		pr.Close()
		if err == io.EOF {
			err = fmt.Errorf("reading the workspace: no output")
		}
		return nil, err
	}
	return &cancelReadCloser{Reader: br, close: func() error { stop(); return pr.Close() }}, nil
}

// writeTar extracts tr into dir (fsat.Untar, all or nothing), written as
// the agent's user; a ctx that ends stops it at its next read.
func (ws *directWS) writeTar(ctx context.Context, dir string, tr io.Reader) error {
	defer ws.root.Close()
	err := ws.asAgent(func() error { return fsat.Untar(ws.root, dir, ctxReader{ctx, tr}) })
	return fsError(err, warder.ErrConflict)
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
