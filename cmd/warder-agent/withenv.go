package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// with-env MARKER [KEY=VALUE...] -- CMD [ARGS...]: run CMD in place of
// this process, with the variables added and WARDER_EXEC_ID=MARKER (so
// kill-exec finds it and what it starts). Warder's exec on Kubernetes,
// whose API has no environment for exec, wraps commands in it.
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
	env := append(os.Environ(), "WARDER_EXEC_ID="+args[0])
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
	err := syscall.Exec(prog, cmd, env)
	fmt.Fprintln(errw, "with-env:", cmd[0]+":", err)
	return 127
}
