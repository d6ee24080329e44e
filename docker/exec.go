package docker

import (
	"context"
	"errors"
	"io"
	"sort"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// Exec runs spec in the running container as its own user (the exec
// names none, so the engine uses the container's), never privileged: the
// container's dropped capabilities and no-new-privileges hold for it.
//
// The engine cannot kill an exec'd process, so each one is marked with
// WARDER_EXEC_ID=<random> in its environment (its children inherit it);
// when ctx ends first, a helper container sharing the agent's process
// namespace runs warder-agent kill-exec, which kills every marked process.
func (r *Runtime) Exec(ctx context.Context, id string, spec warder.ExecSpec, out func(stream string, p []byte) error) (int, error) {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return 0, err
	}
	if !st.Running() {
		return 0, warder.Errorf(warder.ErrConflict, "the agent is not running: start it first")
	}
	marker := randomHex(12)
	env := make([]string, 0, len(spec.Env)+1)
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	env = append(env, "WARDER_EXEC_ID="+marker)
	created, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: spec.Cmd, Env: env, AttachStdout: true, AttachStderr: true, AttachStdin: spec.Stdin != nil,
	})
	if err != nil {
		return 0, mapErr(err, "exec in container "+id)
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, mapErr(err, "attach to exec in container "+id)
	}
	defer att.Close()
	if spec.Stdin != nil {
		go func() {
			io.Copy(att.Conn, spec.Stdin)
			if cw, ok := att.Conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}()
	}
	// Closing the connection when ctx ends unblocks the copy below.
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	_, cerr := stdcopy.StdCopy(streamWriter{warder.StreamStdout, out}, streamWriter{warder.StreamStderr, out}, att.Reader)
	var fe fnError
	if errors.As(cerr, &fe) {
		r.killExec(id, marker)
		return 0, fe.err
	}
	if ctx.Err() != nil {
		r.killExec(id, marker)
		return 0, ctx.Err()
	}
	if cerr != nil {
		return 0, mapErr(cerr, "read exec output")
	}
	res, err := r.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return 0, mapErr(err, "inspect exec")
	}
	return res.ExitCode, nil
}

// streamWriter hands one stream's output to out.
type streamWriter struct {
	stream string
	out    func(string, []byte) error
}

func (w streamWriter) Write(p []byte) (int, error) {
	if err := w.out(w.stream, p); err != nil {
		return 0, fnError{err}
	}
	return len(p), nil
}

// killExec kills the processes of the exec marked marker, on a context
// of its own: the caller's has ended.
func (r *Runtime) killExec(id, marker string) {
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	user, _, err := r.containerUser(ctx, id)
	h := helper{pidOf: id, user: user, cmd: []string{"kill-exec", marker}}
	if err == nil && user == "" {
		// A user by name: root, with just what it takes to find and
		// kill another user's processes.
		h.user, h.capAdd = "0:0", []string{"KILL", "SYS_PTRACE"}
	}
	if out, code, err := r.runHelper(ctx, h); err != nil || code != 0 {
		r.log.Error("killing a timed-out exec", "container", id, "err", err, "exit", code, "output", clipOut(out))
	}
}
