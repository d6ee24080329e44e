package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/fsat"
	"github.com/warder/warder/internal/fsop"
)

// The files of a workspace go through `warder-agent fsop` in the
// workspace's files helper (fshelper.go), which works whether the agent
// runs or not and follows no link.

// fsEntry is an entry as fsop writes it.
type fsEntry struct {
	Name  string      `json:"name"`
	Mode  fs.FileMode `json:"mode"`
	Size  int64       `json:"size"`
	MTime int64       `json:"mtime_ns"`
}

func (e fsEntry) info(rel string) warder.FileInfo {
	return warder.NewFileInfo(rel, e.Name, e.Mode, e.Size, time.Unix(0, e.MTime))
}

// StatFile describes rel.
func (r *Runtime) StatFile(ctx context.Context, id, rel string) (warder.FileInfo, error) {
	var out bytes.Buffer
	if err := r.fsop(ctx, id, fsopCall{args: []string{"stat", warder.WorkspaceMountPath, rel},
		stdout: &limitedWriter{w: &out, n: statBytes}, notDir: warder.ErrInvalid}); err != nil {
		return warder.FileInfo{}, err
	}
	var e fsEntry
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		return warder.FileInfo{}, fmt.Errorf("files helper: %w", err)
	}
	return e.info(rel), nil
}

// ListDir lists the directory's entries, at most limit: fsop reads that
// directory only, however large the tree below it.
func (r *Runtime) ListDir(ctx context.Context, id, rel string, limit int) ([]*warder.FileInfo, error) {
	var out bytes.Buffer
	lim := &limitedWriter{w: &out, n: listBytes}
	if err := r.fsop(ctx, id, fsopCall{args: []string{"list", warder.WorkspaceMountPath, rel, strconv.Itoa(limit)},
		stdout: lim, notDir: warder.ErrInvalid}); err != nil {
		return nil, err
	}
	if lim.n <= 0 {
		return nil, warder.Errorf(warder.ErrTooLarge, "the listing of %s is larger than %d bytes", rel, listBytes)
	}
	var entries []fsEntry
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		return nil, fmt.Errorf("files helper: %w", err)
	}
	list := make([]*warder.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi := e.info(joinRel(rel, e.Name))
		list = append(list, &fi)
	}
	return list, nil
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// ReadTar streams rel (a file or a tree) as a tar, names relative to
// rel's parent; links inside are archived as links. The whole workspace
// of a bounded workspace is read in this process, from its filesystem's
// mount on the host (readTarDirect); everything else through the files
// helper, as the agent's user.
func (r *Runtime) ReadTar(ctx context.Context, id, rel string) (io.ReadCloser, error) {
	if rel == "" {
		if rc, err := r.readTarDirect(ctx, id); rc != nil || err != nil {
			return rc, err
		}
	}
	return r.streamFsop(ctx, id, fsopCall{args: []string{"tar", warder.WorkspaceMountPath, rel}, notDir: warder.ErrInvalid})
}

// readTarDirect streams a bounded workspace whole, read in this process
// from its filesystem's mount (nil, nil where it has none here: a plain
// volume, another directory's filesystem, or one not mounted).
//
// What snapshots and forks read, at the speed of the disk rather than of
// an exec stream through the engine (docs/snapshots.md). It is as safe
// as the helper: package fsat resolves every name from the workspace's
// descriptor with O_NOFOLLOW, archives links as links, opens files
// non-blocking and leaves out whatever is not a regular file or
// directory, so a link or FIFO the agent makes, at any depth and at any
// moment, is never followed or waited on; and the filesystem is the
// workspace's alone, so no hard link in it reaches another file of the
// host. It reads as root, so a file the agent made unreadable to itself
// is in the tar too (the helper, as the agent's user, leaves it out):
// the workspace is the agent's owner's either way.
func (r *Runtime) readTarDirect(ctx context.Context, id string) (io.ReadCloser, error) {
	dir, err := r.boundedDir(ctx)
	if err != nil || dir == nil {
		return nil, nil
	}
	volume, _, err := r.fsTarget(ctx, id)
	if err != nil {
		return nil, err
	}
	path, err := dir.DataPath(volume)
	if err != nil {
		return nil, nil // the helper says what is wrong, or works
	}
	root, err := fsat.OpenRoot(path)
	if err != nil {
		return nil, nil
	}
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	go func() {
		defer root.Close()
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := fsat.Tar(root, "", bw)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			if mapped := fsop.Err(fsat.Code(err), err.Error(), warder.ErrInvalid); mapped != nil {
				err = mapped
			}
		}
		pw.CloseWithError(err)
	}()
	return &cancelReadCloser{Reader: pr, close: func() error { stop(); return pr.Close() }}, nil
}

// WriteTar extracts tr into dir as the agent's user: every directory it
// makes, those its entries only imply included, is the agent's. If it
// fails, fsop itself removes what it made at the top before it ends (no
// helper per name); a caller that goes away ends it the same way.
func (r *Runtime) WriteTar(ctx context.Context, id, dir string, tr io.Reader) error {
	return r.fsop(ctx, id, fsopCall{args: []string{"untar", warder.WorkspaceMountPath, dir}, stdin: tr,
		stdout: io.Discard, notDir: warder.ErrConflict})
}

// RemoveFile deletes rel and what is under it, as the agent's user (so
// it removes only what the agent itself could); a link is removed itself.
func (r *Runtime) RemoveFile(ctx context.Context, id, rel string) error {
	if rel == "" {
		return warder.Errorf(warder.ErrInvalid, "the workspace root cannot be deleted; delete what is in it")
	}
	return r.fsop(ctx, id, fsopCall{args: []string{"rm", warder.WorkspaceMountPath, rel}, stdout: io.Discard, notDir: warder.ErrConflict})
}
