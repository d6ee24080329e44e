package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"

	"github.com/warder/warder"
)

// The files of a workspace go through `warder-agent fsop` in the
// workspace's files helper (fshelper.go), which works whether the agent
// runs or not and follows no link; a bounded workspace's, through the
// same operations run in this process on its filesystem's mount
// (direct.go).

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
// rel's parent; links inside are archived as links.
func (r *Runtime) ReadTar(ctx context.Context, id, rel string) (io.ReadCloser, error) {
	return r.streamFsop(ctx, id, fsopCall{args: []string{"tar", warder.WorkspaceMountPath, rel}, notDir: warder.ErrInvalid})
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
