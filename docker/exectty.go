package docker

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sort"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// ttyChunk is the most output handed to out at once.
const ttyChunk = 32 << 10

// execTTY is Exec with a terminal (spec.TTY): the engine gives the
// command a pseudo-terminal, so its output is one raw stream; what it
// leaves running is ended as for any exec (its own gid, endExec).
func (r *Runtime) execTTY(ctx context.Context, id string, spec warder.ExecSpec, out func(stream string, p []byte) error) (int, error) {
	ins, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, mapErr(err, "inspect container "+id)
	}
	if !r.stateFrom(ins.Container).Running() {
		return 0, warder.Errorf(warder.ErrConflict, "the agent is not running: start it first")
	}
	user := ""
	if ins.Container.Config != nil {
		user = ins.Container.Config.User
	}
	cmd := r.builtinShell(ctx, id, spec.Cmd)
	if len(cmd) == 0 {
		if cmd, err = r.shellOf(ctx, id); err != nil {
			return 0, err
		}
	}
	env := []string{}
	if _, ok := spec.Env["TERM"]; !ok {
		env = append(env, "TERM=xterm-256color")
	}
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	size := client.ConsoleSize{Height: uint(spec.TTY.Size.Rows), Width: uint(spec.TTY.Size.Cols)}
	gid := ExecGIDBase + rand.IntN(execGIDSpan)
	created, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: execUser(user, gid), Cmd: cmd, Env: env, TTY: true, ConsoleSize: size,
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, mapErr(err, "exec in container "+id)
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: true, ConsoleSize: size})
	if err != nil {
		return 0, errors.Join(mapErr(err, "attach to exec in container "+id), r.endExec(id, gid, true))
	}
	defer att.Close()
	if spec.Stdin != nil {
		go io.Copy(att.Conn, spec.Stdin) // ends when the connection closes
	}
	// Engines before API 1.42 take no size at the start: a resize then.
	if _, err := r.cli.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: size.Height, Width: size.Width}); err != nil && ctx.Err() == nil {
		r.log.Debug("sizing an exec's terminal", "container", id, "err", err)
	}
	go r.resizeExec(ctx, created.ID, spec.TTY.Resize)
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	buf := make([]byte, ttyChunk)
	var cerr error
	for {
		n, err := att.Reader.Read(buf)
		if n > 0 {
			if ferr := out(warder.StreamStdout, buf[:n]); ferr != nil {
				return 0, errors.Join(ferr, r.endExec(id, gid, true))
			}
		}
		if err != nil {
			if err != io.EOF {
				cerr = err
			}
			break
		}
	}
	switch {
	case ctx.Err() != nil:
		return 0, errors.Join(ctx.Err(), r.endExec(id, gid, true))
	case cerr != nil:
		return 0, errors.Join(mapErr(cerr, "read exec output"), r.endExec(id, gid, true))
	}
	res, err := r.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return 0, errors.Join(mapErr(err, "inspect exec"), r.endExec(id, gid, true))
	}
	if err := r.endExec(id, gid, res.Running); err != nil {
		return 0, err
	}
	return res.ExitCode, nil
}

// resizeExec passes each size from sizes on to the exec's terminal until
// ctx ends or sizes is closed. A failed resize is logged, not fatal: the
// session goes on at its old size.
func (r *Runtime) resizeExec(ctx context.Context, execID string, sizes <-chan warder.TermSize) {
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-sizes:
			if !ok {
				return
			}
			if _, err := r.cli.ExecResize(ctx, execID, client.ExecResizeOptions{Height: uint(s.Rows), Width: uint(s.Cols)}); err != nil && ctx.Err() == nil {
				r.log.Debug("resizing an exec's terminal", "exec", execID, "err", err)
			}
		}
	}
}

// shellOf is the command of a terminal that names none: the image's
// /bin/sh, else the default image's built-in shell.
func (r *Runtime) shellOf(ctx context.Context, id string) ([]string, error) {
	for _, c := range [][]string{{"/bin/sh"}, {agentPath, "sh"}} {
		_, err := r.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: c[0]})
		if err == nil {
			return c, nil
		}
		if err := mapErr(err, "look for a shell in container "+id); !errors.Is(err, warder.ErrNotFound) {
			return nil, err
		}
	}
	return nil, warder.Errorf(warder.ErrInvalid, "the agent's image has no /bin/sh and no %s: name the command to run", agentPath)
}

// builtinShell takes a command run as sh or /bin/sh to the default
// image's own shell when the image has no /bin/sh: `warder exec helper
// sh -c "echo hi"` works on the default image as on any other.
func (r *Runtime) builtinShell(ctx context.Context, id string, cmd []string) []string {
	if len(cmd) == 0 || cmd[0] != "sh" && cmd[0] != "/bin/sh" {
		return cmd
	}
	sh, err := r.shellOf(ctx, id)
	if err != nil || sh[0] == "/bin/sh" {
		return cmd // the runtime's own error says what is missing
	}
	return append(sh, cmd[1:]...)
}
