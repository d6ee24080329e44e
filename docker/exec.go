package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// ExecGIDBase starts the range of the group ids exec'd processes run
// with: each exec gets its own, from ExecGIDBase up to 2^31-2, a range
// no image's groups use.
const ExecGIDBase = 2_000_000_000

// execGIDSpan is how many marker gids there are.
const execGIDSpan = 1<<31 - 1 - ExecGIDBase

// Exec runs spec in the running container as its own user (the
// container's uid or user name), never privileged: the container's
// dropped capabilities and no-new-privileges hold for it.
//
// Its primary group is a gid of its own (ExecGIDBase and up, random), so
// every process it starts is known by that gid: with no CAP_SETGID and
// no-new-privileges (no setgid binary takes effect), no process of the
// exec can change its real, effective or saved gid, whatever it execs,
// forks, setsid()s or clears; nor ptrace a process of another gid to do
// it for it (the kernel asks for equal gids too). The engine cannot kill
// an exec'd process, so when the command ends, at its exit or when ctx
// ends first, endExec kills every process still carrying the gid, and
// Exec returns only once none is left: the caller's bound on running
// commands counts what is still alive.
func (r *Runtime) Exec(ctx context.Context, id string, spec warder.ExecSpec, out func(stream string, p []byte) error) (int, error) {
	if spec.TTY != nil {
		return r.execTTY(ctx, id, spec, out) // exectty.go
	}
	ins, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, mapErr(err, "inspect container "+id)
	}
	if !r.stateFrom(ins.Container).Running() {
		return 0, warder.Errorf(warder.ErrConflict, "the agent is not running: start it first")
	}
	spec.Cmd = r.builtinShell(ctx, id, spec.Cmd) // exectty.go
	user := ""
	if ins.Container.Config != nil {
		user = ins.Container.Config.User
	}
	gid := ExecGIDBase + rand.IntN(execGIDSpan)
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	created, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: execUser(user, gid), Cmd: spec.Cmd, Env: env, AttachStdout: true, AttachStderr: true, AttachStdin: spec.Stdin != nil,
	})
	if err != nil {
		return 0, mapErr(err, "exec in container "+id)
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		// Perhaps started all the same: make sure nothing of it runs.
		return 0, errors.Join(mapErr(err, "attach to exec in container "+id), r.endExec(id, gid, true))
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
	switch {
	case errors.As(cerr, &fe):
		return 0, errors.Join(fe.err, r.endExec(id, gid, true))
	case ctx.Err() != nil:
		return 0, errors.Join(ctx.Err(), r.endExec(id, gid, true))
	case cerr != nil:
		return 0, errors.Join(mapErr(cerr, "read exec output"), r.endExec(id, gid, true))
	}
	res, err := r.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return 0, errors.Join(mapErr(err, "inspect exec"), r.endExec(id, gid, true))
	}
	// The command has exited; what it left running in the background
	// ends with it.
	if err := r.endExec(id, gid, res.Running); err != nil {
		return 0, err
	}
	return res.ExitCode, nil
}

// execUser is the user an exec runs as: the container's user (a uid or a
// name; "" is root), with gid as its primary group.
func execUser(user string, gid int) string {
	u, _, _ := strings.Cut(user, ":")
	if u == "" {
		u = "0"
	}
	return u + ":" + strconv.Itoa(gid)
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

// endExec ends the exec of group gid: it kills every process of the
// container whose gid is gid, if any, and returns once the engine lists
// none (a process in the middle of a fork when it is killed makes no
// child; a child already made shows in the next listing). alive says the
// command is known to run, so the kill comes first. It works on a
// context of its own: the caller's may have ended. Its error says
// processes of the exec may still run.
func (r *Runtime) endExec(id string, gid int, alive bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*helperTimeout)
	defer cancel()
	if g, err := r.sandboxed(ctx, id); err == nil && g {
		return r.endSandboxedExec(ctx, id, gid) // gvisor.go
	}
	kill := alive
	for round := 0; round < 4 && ctx.Err() == nil; round++ {
		var killErr error
		if kill {
			killErr = r.killExec(ctx, id, gid)
		}
		kill = true
		left, err := r.execProcesses(ctx, id, gid)
		if err == nil && left == 0 {
			// One listing can miss a process caught between a fork and
			// an exec (ps skips what it cannot read then); a second, a
			// moment later, must agree (seen: a double-forked daemon left
			// by a command that exited was missed once in a few hundred).
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			left, err = r.execProcesses(ctx, id, gid)
		}
		switch {
		case errors.Is(err, warder.ErrNotFound) || errors.Is(err, warder.ErrConflict):
			return nil // the container is gone or stopped, its processes with it
		case err == nil && left == 0:
			return nil
		case err != nil && round > 0 && killErr == nil:
			// No listing from the engine (no ps on its host?): the
			// helper's own last scan found none.
			r.log.Warn("listing the processes of an exec", "container", id, "err", err)
			return nil
		}
	}
	r.log.Error("processes of an exec outlive its kill", "container", id, "gid", gid)
	return warder.Errorf(warder.ErrUnavailable, "the command's processes could not all be killed")
}

// execProcesses counts the live processes of container id whose real or
// effective gid is gid, through the engine's top (ps on the engine's
// host; Podman's own ps, whose descriptors differ). A zombie is dead.
func (r *Runtime) execProcesses(ctx context.Context, id string, gid int) (int, error) {
	podman, err := r.isPodman(ctx)
	if err != nil {
		return 0, err
	}
	args := []string{"-eo", "pid,rgid,egid,stat"}
	if podman {
		args = []string{"pid,rgroup,group,state"}
	}
	top, err := r.cli.ContainerTop(ctx, id, client.ContainerTopOptions{Arguments: args})
	if err != nil {
		return 0, mapErr(err, "list the processes of container "+id)
	}
	if len(top.Titles) != 4 {
		return 0, fmt.Errorf("list the processes of container %s: columns %q", id, top.Titles)
	}
	g, n := strconv.Itoa(gid), 0
	for _, p := range top.Processes {
		if len(p) == 4 && (p[1] == g || p[2] == g) && !strings.HasPrefix(p[3], "Z") {
			n++
		}
	}
	return n, nil
}

// killExec runs the helper that kills the processes of group gid: in the
// agent's process namespace, as its user (a name: root, with just
// CAP_KILL). The helper kills until scans of its own find none, and
// fails if they never do.
func (r *Runtime) killExec(ctx context.Context, id string, gid int) error {
	user, _, err := r.containerUser(ctx, id)
	if err != nil {
		return err
	}
	h := helper{pidOf: id, user: user, cmd: []string{"kill-exec", "-gid", strconv.Itoa(gid)}}
	if user == "" {
		h.user, h.capAdd = "0:0", []string{"KILL"}
	}
	out, code, err := r.runHelper(ctx, h)
	if err == nil && code != 0 {
		err = fmt.Errorf("kill-exec exited %d: %s", code, clipOut(out))
	}
	if err != nil {
		r.log.Error("killing the processes of an exec", "container", id, "err", err)
	}
	return err
}
