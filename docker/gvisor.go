package docker

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// DefaultGVisorRuntime is the name agents of isolation gvisor are given
// as their engine runtime when Config.GVisorRuntime is "": what gVisor's
// documentation and .ci/gvisor.sh register runsc as in daemon.json.
const DefaultGVisorRuntime = "runsc"

// isolationState is what Setup learnt of the engine's runtimes.
type isolationState struct {
	gvisor atomic.Bool // the engine lists the gVisor runtime
	probed atomic.Bool // gvisor was read from the engine
}

// gvisorRuntime is the engine runtime that gives isolation gvisor.
func (r *Runtime) gvisorRuntime() string {
	if r.cfg.GVisorRuntime != "" {
		return r.cfg.GVisorRuntime
	}
	return DefaultGVisorRuntime
}

// isolations are the levels agents may have: the operator's (runc
// alone when none is set), less gvisor while the engine has not been
// seen to list its runtime. The default stays, first, whatever is known:
// Setup fails while the backend cannot give it.
//
// Until Setup has read the engine's runtimes, the first caller reads
// them (for at most 2 s): an agent asking for gvisor just after Warder
// starts is not refused because Setup, running beside it, has not come
// to that step yet.
func (r *Runtime) isolations() []warder.Isolation {
	if !r.iso.probed.Load() && slices.Contains(r.cfg.Isolations, warder.IsolationGVisor) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = r.readIsolation(ctx) // failing, gvisor stays unlisted; Setup reads it again
		cancel()
	}
	return warder.OfferedIsolations(r.cfg.Isolations, r.iso.gvisor.Load())
}

// readIsolation reads whether the engine lists gVisor's runtime.
func (r *Runtime) readIsolation(ctx context.Context) (bool, error) {
	info, err := r.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false, mapErr(err, "read the engine's runtimes")
	}
	_, ok := info.Info.Runtimes[r.gvisorRuntime()]
	r.iso.gvisor.Store(ok)
	r.iso.probed.Store(true)
	return ok, nil
}

// probeIsolation reads the engine's runtimes (Setup): whether gVisor's is
// registered. An operator whose default level is gvisor gets an error
// while it is not: agents would otherwise run with less than asked.
func (r *Runtime) probeIsolation(ctx context.Context) error {
	if !slices.Contains(r.cfg.Isolations, warder.IsolationGVisor) {
		return nil
	}
	ok, err := r.readIsolation(ctx)
	if err != nil {
		return err
	}
	if !ok {
		if r.cfg.Isolations[0] == warder.IsolationGVisor {
			return fmt.Errorf("WARDER_AGENT_ISOLATION is gvisor but the engine has no runtime %q (docs/security.md, gVisor)", r.gvisorRuntime())
		}
		r.log.Info("agents cannot have isolation gvisor: the engine has no such runtime", "runtime", r.gvisorRuntime())
	}
	return nil
}

// engineRuntime is the engine runtime of an agent of level l: the
// engine's default ("") for runc, the gVisor runtime for gvisor. "" is
// the deployment's default level. A level no longer offered (the
// operator's policy changed since the agent chose it) is ErrInvalid.
func (r *Runtime) engineRuntime(l warder.Isolation) (string, error) {
	l, err := warder.ResolveIsolation(string(l), r.isolations())
	if err != nil {
		return "", err
	}
	if l == warder.IsolationGVisor {
		return r.gvisorRuntime(), nil
	}
	return "", nil
}

// sandboxed reports whether container id runs under gVisor. There the
// engine's top lists host processes (the runtime's pids are the
// sandbox's own) and a container sharing the agent's process namespace
// sees the sandbox from outside, so an exec's processes are ended from
// inside (endSandboxedExec).
func (r *Runtime) sandboxed(ctx context.Context, id string) (bool, error) {
	ins, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return false, mapErr(err, "inspect container "+id)
	}
	hc := ins.Container.HostConfig
	return hc != nil && hc.Runtime != "" && hc.Runtime == r.gvisorRuntime(), nil
}

// endSandboxedExec ends the exec of group gid in a gVisor container:
// warder-agent's kill-exec, run in the sandbox through the engine as the
// container's user (the uid of the exec's processes, so it may signal
// them; under another gid, so it is none of them), stops and kills them
// until its own scans find none. The image must hold /warder-agent, as
// the default image and those built from it do.
func (r *Runtime) endSandboxedExec(ctx context.Context, id string, gid int) error {
	ins, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return mapErr(err, "inspect container "+id)
	}
	user := ""
	if ins.Container.Config != nil {
		user = ins.Container.Config.User
	}
	var last error
	for round := 0; round < 3 && ctx.Err() == nil; round++ {
		out, code, err := r.execCollect(ctx, id, user, []string{agentPath, "kill-exec", "-gid", strconv.Itoa(gid)})
		switch {
		case isNotFound(err) || isConflict(err):
			return nil // the container is gone or stopped, its processes with it
		case err != nil:
			last = err
		case code == 126 || code == 127:
			return warder.Errorf(warder.ErrUnavailable, "the command's processes could not be ended: under gVisor the image needs %s", agentPath)
		case code != 0:
			last = fmt.Errorf("kill-exec exited %d: %s", code, clipOut(out))
		default:
			return nil
		}
	}
	r.log.Error("processes of an exec outlive its kill", "container", id, "gid", gid, "err", last)
	return warder.Errorf(warder.ErrUnavailable, "the command's processes could not all be killed")
}

// execCollect runs cmd in container id as user and returns its output
// (at most 64 KiB) and exit code.
func (r *Runtime) execCollect(ctx context.Context, id, user string, cmd []string) (string, int, error) {
	created, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{User: user, Cmd: cmd, Env: []string{"GOMAXPROCS=1"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", 0, err
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", 0, err
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	var out bytes.Buffer
	lim := &limitedWriter{w: &out, n: 64 << 10}
	if _, err := stdcopy.StdCopy(lim, lim, att.Reader); err != nil {
		return out.String(), 0, mapErr(err, "read exec output")
	}
	code, err := r.execExitCode(ctx, created.ID)
	return out.String(), code, err
}

// sandboxedPoolUnfit says why a gVisor warm pool cannot serve spec, or
// "". runsc has no live update (the engine's update of a running
// container fails whatever it changes), so only an agent of one of the
// pool's shapes, with no restart policy and the default pids limit, can
// take a pool container as it is; any other starts cold.
func (r *Runtime) sandboxedPoolUnfit(spec warder.WorkloadSpec) string {
	if r.isolations()[0] != warder.IsolationGVisor {
		return ""
	}
	rp, err := restartPolicy(spec.Restart)
	if err != nil || rp.Name != container.RestartPolicyDisabled || spec.PidsLimit != warder.PidsLimit {
		return "a gVisor pool container cannot take a restart policy or pids limit live"
	}
	for _, s := range r.cfg.WarmPool {
		if s.Key() == warder.ShapeKey(spec.MemoryBytes, spec.MilliCPUs) {
			return ""
		}
	}
	return "a gVisor pool container cannot change its limits live, and no pool is of the agent's"
}
