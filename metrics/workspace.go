package metrics

import (
	"context"
	"io"
	"time"

	"github.com/warder/warder"
)

// Parts wraps the optional parts the runtime has, and only those: a part
// the runtime lacks stays nil, so the wrapper never claims what is not
// there. Each call is counted as the rest.
func (r *runtime) Parts() warder.RuntimeParts {
	p := r.Runtime.Parts()
	if p.Workspaces != nil {
		p.Workspaces = workspaces{p.Workspaces, r}
	}
	if p.Files != nil {
		p.Files = files{p.Files, r}
	}
	if p.Exec != nil {
		p.Exec = execs{p.Exec, r}
	}
	if p.Stats != nil {
		p.Stats = statsStreams{p.Stats, r}
	}
	if p.WarmPool != nil {
		p.WarmPool = warmPool{p.WarmPool, r}
	}
	if p.Pause != nil {
		p.Pause = pauser{p.Pause, r}
	}
	return p
}

// timed records a call named op when the returned function runs, with
// the error *err holds then.
func (r *runtime) timed(op string, err *error) func() {
	start := time.Now()
	return func() { r.call(op, start, *err) }
}

type workspaces struct {
	w warder.WorkspaceRuntime
	r *runtime
}

func (c workspaces) Workspaces(ctx context.Context) (list []*warder.Workspace, err error) {
	defer c.r.timed("workspaces", &err)()
	return c.w.Workspaces(ctx)
}

func (c workspaces) WorkspaceUsage(ctx context.Context, name string) (n int64, err error) {
	defer c.r.timed("workspace_usage", &err)()
	return c.w.WorkspaceUsage(ctx, name)
}

func (c workspaces) RemoveWorkspace(ctx context.Context, name string) (err error) {
	defer c.r.timed("remove_workspace", &err)()
	return c.w.RemoveWorkspace(ctx, name)
}

type files struct {
	f warder.FileRuntime
	r *runtime
}

func (c files) StatFile(ctx context.Context, id, p string) (fi warder.FileInfo, err error) {
	defer c.r.timed("stat_file", &err)()
	return c.f.StatFile(ctx, id, p)
}

func (c files) ListDir(ctx context.Context, id, p string, limit int) (list []*warder.FileInfo, err error) {
	defer c.r.timed("list_dir", &err)()
	return c.f.ListDir(ctx, id, p, limit)
}

func (c files) ReadTar(ctx context.Context, id, p string) (rc io.ReadCloser, err error) {
	defer c.r.timed("read_tar", &err)()
	return c.f.ReadTar(ctx, id, p)
}

func (c files) WriteTar(ctx context.Context, id, dir string, tr io.Reader) (err error) {
	defer c.r.timed("write_tar", &err)()
	return c.f.WriteTar(ctx, id, dir, tr)
}

func (c files) RemoveFile(ctx context.Context, id, p string) (err error) {
	defer c.r.timed("remove_file", &err)()
	return c.f.RemoveFile(ctx, id, p)
}

type execs struct {
	e warder.ExecRuntime
	r *runtime
}

func (c execs) Exec(ctx context.Context, id string, spec warder.ExecSpec, out func(string, []byte) error) (int, error) {
	done := c.r.stream("exec")
	code, err := c.e.Exec(ctx, id, spec, out)
	done(err)
	return code, err
}

type statsStreams struct {
	s warder.StatsStreamer
	r *runtime
}

func (c statsStreams) StatsStream(ctx context.Context, id string, fn func(warder.Stats)) error {
	done := c.r.stream("stats_stream")
	err := c.s.StatsStream(ctx, id, fn)
	done(err)
	return err
}

type warmPool struct {
	p warder.WarmPool
	r *runtime
}

func (c warmPool) Claim(ctx context.Context, spec warder.WorkloadSpec) (st warder.WorkloadState, err error) {
	defer c.r.timed("claim", &err)()
	return c.p.Claim(ctx, spec)
}

func (c warmPool) KeepPool(ctx context.Context) { c.p.KeepPool(ctx) }

type pauser struct {
	p warder.Pauser
	r *runtime
}

func (c pauser) Pause(ctx context.Context, id string) (err error) {
	defer c.r.timed("pause", &err)()
	return c.p.Pause(ctx, id)
}

func (c pauser) Resume(ctx context.Context, id string) (err error) {
	defer c.r.timed("resume", &err)()
	return c.p.Resume(ctx, id)
}
