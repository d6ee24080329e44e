package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

// with-env MARKER [KEY=VALUE...] -- CMD [ARGS...]: run CMD as a child,
// with the variables added. Warder's exec on Kubernetes, whose API has
// neither an environment nor a kill for exec, wraps commands in it.
//
// It is a child subreaper: whatever CMD starts and leaves (an orphan, a
// double-forked daemon in a session of its own) becomes its child, not
// the container's init's, so all the exec's processes stay below it,
// and its command line, which names MARKER, is how `kill-exec -tree
// MARKER` finds them. When CMD exits, what it left is killed (an exec's
// processes end with it) and with-env exits with CMD's status.
func builtinWithEnv(args []string, _ io.Reader, _, errw io.Writer) int {
	sep := -1
	for i, a := range args {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 1 || sep == len(args)-1 {
		fmt.Fprintln(errw, "usage: with-env MARKER [KEY=VALUE...] -- CMD [ARGS...]")
		return 2
	}
	env := os.Environ()
	for _, kv := range args[1:sep] {
		if !strings.Contains(kv, "=") {
			fmt.Fprintln(errw, "with-env: not KEY=VALUE:", kv)
			return 2
		}
		env = append(env, kv)
	}
	cmd := args[sep+1:]
	prog := cmd[0]
	if !strings.Contains(prog, "/") {
		if lp, err := exec.LookPath(prog); err == nil {
			prog = lp
		}
	}
	if cmd, prog = ownShell(cmd, prog); prog == "" {
		fmt.Fprintln(errw, "with-env: sh: cannot find this program to run its own shell")
		return 127
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		fmt.Fprintln(errw, "with-env: cannot become a subreaper:", e)
		return 1
	}
	pid, err := syscall.ForkExec(prog, cmd, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}})
	if err != nil {
		fmt.Fprintln(errw, "with-env:", cmd[0]+":", err)
		return 127
	}
	code := reapUntil(pid)
	// What the command left behind ends with it.
	self := os.Getpid()
	killUntilNone(func(procs map[int]procInfo) []int { return descendants(self, procs) })
	return code
}

// reapUntil waits for children (its own and those it adopted as a
// subreaper) until pid exits, and returns pid's status as a shell would.
func reapUntil(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 127 // no child left: cannot happen while pid lives
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// ownShell runs a command named sh or /bin/sh, in an image that has no
// /bin/sh (the default image is FROM scratch), with this program's own
// shell (shell.go), as the Docker runtime does for its execs: `sh -c
// "echo hi"` works on the default image on Kubernetes too. Other
// commands, and images with a shell, are left as they are.
func ownShell(cmd []string, prog string) ([]string, string) {
	if prog != "sh" && prog != "/bin/sh" {
		return cmd, prog
	}
	if _, err := os.Stat("/bin/sh"); err == nil {
		return cmd, "/bin/sh"
	}
	self, err := os.Executable()
	if err != nil {
		return cmd, ""
	}
	return append([]string{self, "sh"}, cmd[1:]...), self
}
