package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// execBinaries builds warder-agent and docker/testdata/execescape (a
// program that re-execs with no environment and double-forks into new
// sessions) into a directory of t's.
func execBinaries(t *testing.T) (agent, escape string) {
	t.Helper()
	dir := t.TempDir()
	agent, escape = filepath.Join(dir, "warder-agent"), filepath.Join(dir, "execescape")
	for _, b := range [][2]string{{agent, "."}, {escape, "../../docker/testdata/execescape"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return agent, escape
}

// sleepers counts this machine's live "execescape sleeping SECONDS".
func sleepers(seconds string) int {
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		st, _ := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err == nil && bytes.Equal(cmd, []byte("execescape\x00sleeping\x00"+seconds+"\x00")) && !bytes.Contains(st, []byte(") Z ")) {
			n++
		}
	}
	return n
}

// TestWithEnvEndsWhatItStarted: the exec wrapper of Kubernetes keeps
// every process of its command below it, however it forks: a daemon
// double-forked into a new session with an empty environment is killed
// when the command exits; and kill-exec -tree kills a running command's
// whole tree, a re-exec'd one and a daemon alike. (Run here on the host,
// as in the agent's container: nothing in it is Kubernetes'.)
func TestWithEnvEndsWhatItStarted(t *testing.T) {
	agent, escape := execBinaries(t)
	secs := strconv.Itoa(3000 + os.Getpid()%1000)

	out, err := exec.Command(agent, "with-env", "m1", "A=1", "--", escape, "daemon", secs, "0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "daemon started") {
		t.Fatalf("with-env of a daemon: %v: %s", err, out)
	}
	if n := sleepers(secs); n > 0 {
		t.Fatalf("%d processes the command left still run after with-env exited", n)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"reexec", []string{"reexec", secs}},
		{"daemon", []string{"daemon", secs, secs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := "m-" + tc.name
			w := exec.Command(agent, append([]string{"with-env", marker, "--", escape}, tc.args...)...)
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- w.Wait() }()
			for deadline := time.Now().Add(10 * time.Second); sleepers(secs) == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					w.Process.Kill()
					t.Fatal("the command's sleeper never showed, so the test proves nothing")
				}
			}
			if out, err := exec.Command(agent, "kill-exec", "-tree", marker).CombinedOutput(); err != nil {
				t.Fatalf("kill-exec: %v: %s", err, out)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				w.Process.Kill()
				t.Fatal("with-env still runs after kill-exec")
			}
			if n := sleepers(secs); n > 0 {
				t.Fatalf("%d processes of the command still run after kill-exec", n)
			}
		})
	}
}

// TestKillExecUsage: kill-exec refuses what it cannot act on.
func TestKillExecUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"m"}, {"-gid", "x"}, {"-gid", "0"}, {"-tree", ""}, {"-pid", "1"}} {
		var errw bytes.Buffer
		if code := builtinKillExec(args, nil, &bytes.Buffer{}, &errw); code != 2 {
			t.Errorf("kill-exec %q = %d", args, code)
		}
	}
}
