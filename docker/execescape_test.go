package docker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// escapeContainer starts a container of an image FROM scratch holding
// the test agent and testdata/execescape (a program that re-execs with
// no environment, double-forks into new sessions, and attacks its gid),
// as the default image's user; image and container are removed at
// cleanup by their exact names.
func escapeContainer(t *testing.T, r *Runtime) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "execescape"), "./testdata/execescape")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building execescape: %v\n%s", err, out)
	}
	escape, err := os.ReadFile(filepath.Join(dir, "execescape"))
	must(t, err)
	agentPath, err := r.cfg.AgentBinary(ctx)
	must(t, err)
	agent, err := os.ReadFile(agentPath)
	must(t, err)
	buildCtx, err := tarFiles([]tarFile{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY warder-agent /warder-agent\nCOPY execescape /execescape\nUSER 65534:65534\nENTRYPOINT [\"/warder-agent\"]\n")},
		{"warder-agent", 0o755, agent},
		{"execescape", 0o755, escape},
	})
	must(t, err)
	tag := testenv.UniqueName("warder-test/execescape:t")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.RemoveImage(ctx, tag); err != nil {
			t.Errorf("cleanup: remove image %s: %v", tag, err)
		}
	})
	must(t, r.buildImage(ctx, tag, buildCtx))
	must(t, r.Setup(ctx))
	spec := testSpec(t, r)
	spec.Image = tag
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	waitHealthy(t, r, id)
	return id
}

// escapees counts the container's execescape processes, as the engine's
// top lists them (under gVisor, as execescape count sees them in the
// sandbox); a zombie is dead.
func escapees(t *testing.T, r *Runtime, id string) int {
	t.Helper()
	if g, err := r.sandboxed(context.Background(), id); err == nil && g {
		out, code, err := r.execCollect(context.Background(), id, "", []string{"/execescape", "count"})
		n, cerr := strconv.Atoi(strings.TrimSpace(out))
		if err != nil || code != 0 || cerr != nil {
			t.Fatalf("execescape count = %q, exit %d, %v", out, code, err)
		}
		return n
	}
	var args []string // Docker's default, ps -ef
	if podman, _ := r.isPodman(context.Background()); podman {
		args = []string{"pid,args"} // Podman's own ps
	}
	top, err := r.cli.ContainerTop(context.Background(), id, client.ContainerTopOptions{Arguments: args})
	must(t, err)
	n := 0
	for _, p := range top.Processes {
		line := strings.Join(p, " ")
		if strings.Contains(line, "execescape") && !strings.Contains(line, "<defunct>") && !strings.Contains(line, "[execescape]") {
			n++
		}
	}
	return n
}

// TestExecEndsEveryProcess: a command that re-executes itself with an
// empty environment, or double-forks a daemon into a session of its own,
// is gone with every process it started once its exec times out or its
// caller leaves (read with the engine's top, with a deadline); and what
// a command that exits normally leaves running is gone when Exec returns
// (so the caller's bound on running commands counted it). On Docker and
// on Podman, and under gVisor (gvisor.go).
func TestExecEndsEveryProcess(t *testing.T) {
	for _, engine := range []string{"docker", "podman", "gvisor"} {
		t.Run(engine, func(t *testing.T) {
			var r *Runtime
			switch engine {
			case "docker":
				testenv.Docker(t)
				r = newRuntime(t, nil)
			case "gvisor":
				r = gvisorRuntime(t, nil)
			default:
				r = newPodmanRuntime(t, nil)
			}
			id := escapeContainer(t, r)
			for _, tc := range []struct {
				name  string
				cmd   []string
				procs int // execescape processes while it runs
			}{
				{"reexec with no environment", []string{"/execescape", "reexec", "300"}, 1},
				{"double fork into a new session", []string{"/execescape", "daemon", "300", "300"}, 2},
				{"a chain forking on and exiting", []string{"/execescape", "hopper", "300"}, 2},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					done := make(chan error, 1)
					go func() {
						_, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: tc.cmd}, func(string, []byte) error { return nil })
						done <- err
					}()
					for deadline := time.Now().Add(20 * time.Second); escapees(t, r, id) < tc.procs; time.Sleep(100 * time.Millisecond) {
						if time.Now().After(deadline) {
							cancel()
							<-done
							t.Fatalf("the command's %d processes never showed, so the test proves nothing", tc.procs)
						}
					}
					cancel()
					if err := <-done; !errors.Is(err, context.Canceled) {
						t.Fatalf("exec past its context: %v", err)
					}
					for deadline := time.Now().Add(20 * time.Second); escapees(t, r, id) > 0; time.Sleep(200 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatal("processes of the command still run 20 s after its context ended")
						}
					}
					// A chain may slip one listing: none may show for 2 s.
					for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
						if n := escapees(t, r, id); n > 0 {
							t.Fatalf("%d processes of the command run again after none was seen", n)
						}
					}
				})
			}
			t.Run("left behind by a command that exited", func(t *testing.T) {
				var out strings.Builder
				code, err := r.Exec(context.Background(), id, warder.ExecSpec{Cmd: []string{"/execescape", "daemon", "300", "0"}},
					func(_ string, p []byte) error { out.Write(p); return nil })
				if err != nil || code != 0 || !strings.Contains(out.String(), "daemon started") {
					t.Fatalf("exec = %d, %v: %q", code, err, out.String())
				}
				if n := escapees(t, r, id); n > 0 {
					t.Fatalf("%d processes the command left still run after Exec returned", n)
				}
			})
		})
	}
}

// TestExecCannotLeaveItsGroup: the gid that marks an exec's processes
// is one none of them can change (no CAP_SETGID, no-new-privileges):
// setgid, setresgid, setgroups, setfsgid, a new user namespace, ptrace
// or /proc/PID/mem of a process outside the exec, a file given to
// another group, all refused; the gid is in Warder's range.
// Under gVisor too, whose kernel makes the same checks.
func TestExecCannotLeaveItsGroup(t *testing.T) {
	for _, engine := range []string{"docker", "gvisor"} {
		t.Run(engine, func(t *testing.T) {
			var r *Runtime
			if engine == "gvisor" {
				r = gvisorRuntime(t, nil)
			} else {
				testenv.Docker(t)
				r = newRuntime(t, nil)
			}
			execCannotLeaveItsGroup(t, r)
		})
	}
}

func execCannotLeaveItsGroup(t *testing.T, r *Runtime) {
	id := escapeContainer(t, r)
	var out strings.Builder
	code, err := r.Exec(context.Background(), id, warder.ExecSpec{Cmd: []string{"/execescape", "attack"}},
		func(_ string, p []byte) error { out.Write(p); return nil })
	t.Logf("attack:\n%s", out.String())
	if err != nil || code != 0 || strings.Contains(out.String(), "ESCAPED") {
		t.Fatalf("attack = %d, %v", code, err)
	}
	if !strings.Contains(out.String(), "ptrace(SEIZE, 1)") {
		t.Fatal("the attack never tried the agent's own process, so it proves nothing")
	}
	_, after, _ := strings.Cut(out.String(), "gids after: ")
	f := strings.Fields(after)
	if len(f) < 4 {
		t.Fatalf("no gids after the attack")
	}
	for _, g := range f[:4] {
		if n, err := strconv.Atoi(g); err != nil || n < ExecGIDBase {
			t.Errorf("gid %s after the attack is not an exec's", g)
		}
	}
}
