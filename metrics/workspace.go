package metrics

import (
	"context"
	"io"
	"time"

	"github.com/warder/warder"
)

// The optional parts of the contract pass through, counted as the rest.
// The wrapper has every method whatever the runtime under it has, so
// Info alone says what is there; a call the runtime lacks is
// ErrNotSupported.
var (
	_ warder.WorkspaceRuntime = (*runtime)(nil)
	_ warder.FileRuntime      = (*runtime)(nil)
	_ warder.ExecRuntime      = (*runtime)(nil)
)

func unsupported() error {
	return warder.Errorf(warder.ErrNotSupported, "the runtime has no workspaces, files or exec")
}

func (r *runtime) Workspaces(ctx context.Context) (list []*warder.Workspace, err error) {
	wr, ok := r.Runtime.(warder.WorkspaceRuntime)
	if !ok {
		return nil, unsupported()
	}
	defer r.timed("workspaces", &err)()
	return wr.Workspaces(ctx)
}

func (r *runtime) WorkspaceUsage(ctx context.Context, name string) (n int64, err error) {
	wr, ok := r.Runtime.(warder.WorkspaceRuntime)
	if !ok {
		return 0, unsupported()
	}
	defer r.timed("workspace_usage", &err)()
	return wr.WorkspaceUsage(ctx, name)
}

func (r *runtime) RemoveWorkspace(ctx context.Context, name string) (err error) {
	wr, ok := r.Runtime.(warder.WorkspaceRuntime)
	if !ok {
		return unsupported()
	}
	defer r.timed("remove_workspace", &err)()
	return wr.RemoveWorkspace(ctx, name)
}

func (r *runtime) StatFile(ctx context.Context, id, p string) (fi warder.FileInfo, err error) {
	fr, ok := r.Runtime.(warder.FileRuntime)
	if !ok {
		return fi, unsupported()
	}
	defer r.timed("stat_file", &err)()
	return fr.StatFile(ctx, id, p)
}

func (r *runtime) ListDir(ctx context.Context, id, p string, limit int) (list []*warder.FileInfo, err error) {
	fr, ok := r.Runtime.(warder.FileRuntime)
	if !ok {
		return nil, unsupported()
	}
	defer r.timed("list_dir", &err)()
	return fr.ListDir(ctx, id, p, limit)
}

func (r *runtime) ReadTar(ctx context.Context, id, p string) (rc io.ReadCloser, err error) {
	fr, ok := r.Runtime.(warder.FileRuntime)
	if !ok {
		return nil, unsupported()
	}
	defer r.timed("read_tar", &err)()
	return fr.ReadTar(ctx, id, p)
}

func (r *runtime) WriteTar(ctx context.Context, id, dir string, tr io.Reader) (err error) {
	fr, ok := r.Runtime.(warder.FileRuntime)
	if !ok {
		return unsupported()
	}
	defer r.timed("write_tar", &err)()
	return fr.WriteTar(ctx, id, dir, tr)
}

func (r *runtime) RemoveFile(ctx context.Context, id, p string) (err error) {
	fr, ok := r.Runtime.(warder.FileRuntime)
	if !ok {
		return unsupported()
	}
	defer r.timed("remove_file", &err)()
	return fr.RemoveFile(ctx, id, p)
}

func (r *runtime) Exec(ctx context.Context, id string, spec warder.ExecSpec, out func(string, []byte) error) (int, error) {
	er, ok := r.Runtime.(warder.ExecRuntime)
	if !ok {
		return 0, unsupported()
	}
	done := r.stream("exec")
	code, err := er.Exec(ctx, id, spec, out)
	done(err)
	return code, err
}

// timed records a call named op when the returned function runs, with
// the error *err holds then.
func (r *runtime) timed(op string, err *error) func() {
	start := time.Now()
	return func() { r.call(op, start, *err) }
}

var _ warder.WarmPool = (*runtime)(nil)

// Claim passes a warm pool's claim through; a runtime without a pool has
// nothing to hand over (ErrNotFound: the caller creates as usual).
func (r *runtime) Claim(ctx context.Context, spec warder.ContainerSpec) (id string, err error) {
	wp, ok := r.Runtime.(warder.WarmPool)
	if !ok {
		return "", warder.Errorf(warder.ErrNotFound, "the runtime has no warm pool")
	}
	defer r.timed("claim", &err)()
	return wp.Claim(ctx, spec)
}
