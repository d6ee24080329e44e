package main

import (
	"os"
	"os/signal"
	"syscall"
)

// reapOrphans waits for every child this process gets when it is PID 1
// of the agent's container: the kernel gives PID 1 each orphan of the
// namespace (a process whose parent exited: what an exec double-forks,
// every hop of a chain forking on and exiting), and an orphan that exits
// stays a zombie until its parent waits for it. Unreaped, they hold pids
// (the container's pids limit counts them) and slow every scan of /proc,
// kill-exec's among them: a fork chain left thousands in seconds, and a
// scan reading them all let the chain outrun its kill. The server starts
// no child of its own it would wait for, so waiting for any is safe.
func reapOrphans() {
	if os.Getpid() != 1 {
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		for {
			reapAll()
			<-sig
		}
	}()
}

// reapAll waits for every child that has exited, without blocking.
func reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
