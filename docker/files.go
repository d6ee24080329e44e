package docker

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// The files of a workspace go through the Engine's archive API on the
// agent's own container, which works whether it runs or not: a stat
// (HEAD), a tar out (GET) and a tar in (PUT). Deleting needs a process,
// so it runs in a helper container on the same volume.

// abs is rel's path in the container.
func abs(rel string) string { return path.Join(warder.WorkspaceMountPath, rel) }

// stat stats p in the container; absent is ErrNotFound.
func (r *Runtime) stat(ctx context.Context, id, p string) (container.PathStat, error) {
	res, err := r.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: p})
	if cerrdefs.IsNotFound(err) {
		return container.PathStat{}, warder.Errorf(warder.ErrNotFound, "%s does not exist in the workspace", p)
	}
	if err != nil {
		return container.PathStat{}, mapErr(err, "stat "+p)
	}
	return res.Stat, nil
}

// walk stats every element of rel from the workspace root down and
// refuses a symlink anywhere: the engine would follow it, and the path
// must not lead out of the workspace. The last stat is returned;
// a missing element is ErrNotFound (the stat of the deepest existing
// parent is not needed by any caller).
func (r *Runtime) walk(ctx context.Context, id, rel string) (container.PathStat, error) {
	st, err := r.stat(ctx, id, warder.WorkspaceMountPath)
	if errors.Is(err, warder.ErrNotFound) {
		return st, warder.Errorf(warder.ErrConflict, "the agent's container has no workspace: delete it and start the agent again (agents made before workspaces existed)")
	}
	if err != nil || rel == "" {
		return st, err
	}
	p := warder.WorkspaceMountPath
	for _, el := range strings.Split(rel, "/") {
		p = path.Join(p, el)
		if st, err = r.stat(ctx, id, p); err != nil {
			return st, err
		}
		if st.Mode&fs.ModeSymlink != 0 || st.LinkTarget != "" && st.LinkTarget != p {
			return st, warder.Errorf(warder.ErrInvalid, "%s is a symlink: the files API does not follow links", strings.TrimPrefix(p, warder.WorkspaceMountPath+"/"))
		}
	}
	return st, nil
}

// StatFile describes rel.
func (r *Runtime) StatFile(ctx context.Context, id, rel string) (warder.FileInfo, error) {
	st, err := r.walk(ctx, id, rel)
	if err != nil {
		return warder.FileInfo{}, err
	}
	return warder.NewFileInfo(rel, st.Name, st.Mode, st.Size, st.Mtime), nil
}

// ListDir reads the directory's tar and keeps its direct entries: the
// archive API has no listing of its own. The rest of the tar is read
// and dropped, so a large tree costs its transfer.
func (r *Runtime) ListDir(ctx context.Context, id, rel string, limit int) ([]*warder.FileInfo, error) {
	st, err := r.walk(ctx, id, rel)
	if err != nil {
		return nil, err
	}
	if !st.Mode.IsDir() {
		return nil, warder.Errorf(warder.ErrInvalid, "%s is not a directory", rel)
	}
	res, err := r.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: abs(rel) + "/."})
	if err != nil {
		return nil, mapErr(err, "read "+rel)
	}
	defer res.Content.Close()
	out := []*warder.FileInfo{}
	tr := tar.NewReader(res.Content)
	for len(out) < limit {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, mapErr(err, "read "+rel)
		}
		// Names are "./x", "./x/y", ...: keep one level.
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if name == "" || name == "." || strings.Contains(name, "/") {
			continue
		}
		fi := warder.NewFileInfo(path.Join(rel, name), name, h.FileInfo().Mode(), h.Size, h.ModTime)
		out = append(out, &fi)
	}
	return out, nil
}

// ReadTar streams rel (a file or a tree) as the engine archives it.
func (r *Runtime) ReadTar(ctx context.Context, id, rel string) (io.ReadCloser, error) {
	if _, err := r.walk(ctx, id, rel); err != nil {
		return nil, err
	}
	res, err := r.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: abs(rel)})
	if err != nil {
		return nil, mapErr(err, "read "+rel)
	}
	return res.Content, nil
}

// WriteTar extracts tr into dir. The directories on the way are put
// first, so the engine makes none of them as root; every entry is owned
// by the container's user (see extract).
func (r *Runtime) WriteTar(ctx context.Context, id, dir string, tr io.Reader) error {
	// Refuse a symlink on the way; a missing part is made below.
	p := ""
	for _, el := range strings.Split(dir, "/") {
		if el == "" {
			break
		}
		p = path.Join(p, el)
		st, err := r.walk(ctx, id, p)
		if errors.Is(err, warder.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if !st.Mode.IsDir() {
			return warder.Errorf(warder.ErrConflict, "%s exists and is not a directory", p)
		}
	}
	if dir == "" {
		if _, err := r.walk(ctx, id, ""); err != nil {
			return err
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(prefixTar(pw, dir, tr)) }()
	return r.extract(ctx, id, pr, "write "+path.Join(warder.WorkspaceMountPath, dir))
}

// extract unpacks the tar pr into the workspace root, every entry owned
// by the container's user: by number when the container's user is
// numeric (set in each header here), else by the engine's lookup of the
// name in the image (CopyUIDGID). pr is closed when it returns.
func (r *Runtime) extract(ctx context.Context, id string, pr *io.PipeReader, op string) error {
	defer pr.CloseWithError(errors.New("upload ended"))
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return mapErr(err, "inspect container "+id)
	}
	user := "0"
	if c := res.Container.Config; c != nil && c.User != "" {
		user = c.User
	}
	uid, gid, numeric := numericIDs(user)
	src := io.Reader(pr)
	if numeric {
		rr, rw := io.Pipe()
		go func() { rw.CloseWithError(chownTar(rw, pr, uid, gid)) }()
		defer rr.CloseWithError(errors.New("upload ended"))
		src = rr
	}
	_, err = r.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{
		DestinationPath: warder.WorkspaceMountPath, Content: src, CopyUIDGID: !numeric,
	})
	if err != nil && !isUnavailable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		// The engine's refusal of what is there (a directory where the
		// upload has a file, a full disk): its message names only paths
		// in the agent's own container.
		return warder.Errorf(warder.ErrConflict, "%s: %v", op, err)
	}
	return mapErr(err, op)
}

// chownTar copies a tar, every entry owned by uid:gid.
func chownTar(w io.Writer, src io.Reader, uid, gid int) error {
	tw := tar.NewWriter(w)
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		h.Uid, h.Gid, h.Uname, h.Gname = uid, gid, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// prefixTar copies tr to w with every name under dir, after an entry
// for the workspace root and each directory of dir (so those are owned
// as the entries are).
func prefixTar(w io.Writer, dir string, src io.Reader) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	p := ""
	for _, el := range strings.Split(dir, "/") {
		if el == "" {
			continue
		}
		p = path.Join(p, el)
		if err := tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
	}
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		h.Name = path.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// RemoveFile deletes rel and what is under it, in a helper as the
// container's user (so it removes only what the agent itself could).
func (r *Runtime) RemoveFile(ctx context.Context, id, rel string) error {
	if rel == "" {
		return warder.Errorf(warder.ErrInvalid, "the workspace root cannot be deleted; delete what is in it")
	}
	if _, err := r.walk(ctx, id, rel); err != nil {
		if errors.Is(err, warder.ErrNotFound) {
			return nil
		}
		return err
	}
	user, vol, err := r.containerUser(ctx, id)
	if err != nil {
		return err
	}
	if user == "" {
		user = warder.NonRootUser
	}
	if vol == "" {
		return warder.Errorf(warder.ErrConflict, "the agent's container has no workspace volume")
	}
	out, code, err := r.runHelper(ctx, helper{volume: vol, user: user, cmd: []string{"rm", abs(rel)}})
	if err != nil {
		return err
	}
	if code != 0 {
		return warder.Errorf(warder.ErrConflict, "could not delete %s: %s", rel, clipOut(out))
	}
	return nil
}
