package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestExecPastItsContextIsKilled: a command whose context ends is not
// left running in the agent's container: the helper that shares the
// container's processes kills it (the engine has no call for that), on
// Docker and on Podman.
func TestExecPastItsContextIsKilled(t *testing.T) {
	for _, engine := range []string{"docker", "podman"} {
		t.Run(engine, func(t *testing.T) {
			var r *Runtime
			if engine == "docker" {
				testenv.Docker(t)
				r = newRuntime(t, nil)
			} else {
				r = newPodmanRuntime(t, nil)
			}
			ctx := context.Background()
			_, id := startTestContainer(t, r)
			waitHealthy(t, r, id)
			ins, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			must(t, err)
			ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", ins.Container.State.Pid))
			if err != nil {
				testenv.SkipOrFail(t, "WARDER_REQUIRE_DOCKER", "this test reads the container's processes from the host's /proc: %v", err)
			}
			// sleeping: a process in the container's PID namespace runs
			// "sleep 120" (read from the host: the engines' top differ).
			sleeping := func() bool {
				procs, _ := os.ReadDir("/proc")
				for _, d := range procs {
					if l, err := os.Readlink("/proc/" + d.Name() + "/ns/pid"); err != nil || l != ns {
						continue
					}
					if cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline"); err == nil && strings.Contains(string(cmd), "sleep\x00120") {
						return true
					}
				}
				return false
			}
			// The probe works: the command shows while it runs.
			running := make(chan struct{})
			go func() {
				defer close(running)
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !sleeping(); time.Sleep(50 * time.Millisecond) {
				}
			}()
			tctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := r.Exec(tctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "sleep", "120"}}, func(string, []byte) error { return nil })
				done <- err
			}()
			<-running
			if !sleeping() {
				cancel()
				t.Fatal("the exec'd command never showed in the container's processes, so the test proves nothing")
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("exec past its context: %v", err)
			}
			for deadline := time.Now().Add(20 * time.Second); sleeping(); time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the command still runs 20 s after its context ended")
				}
			}
		})
	}
}
