package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// linger SECONDS: wait while other processes run in this process's PID
// namespace, and exit once none has run for SECONDS. A files helper's
// first process: the helper serves execs as long as calls come, never
// ends under a call that is running, and ends by itself once idle (so a
// Warder that stops leaves nothing running for long).
func builtinLinger(args []string, _ io.Reader, _, errw io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(errw, "usage: linger SECONDS")
		return 2
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	if err != nil || secs <= 0 {
		fmt.Fprintln(errw, "linger: not a number of seconds:", args[0])
		return 2
	}
	idle := time.Duration(secs * float64(time.Second))
	self := os.Getpid()
	last := time.Now()
	for {
		if othersRunning(self) {
			last = time.Now()
		} else if time.Since(last) >= idle {
			return 0
		}
		time.Sleep(min(idle/4, 500*time.Millisecond))
	}
}

// othersRunning reports whether /proc shows a process other than self
// (a zombie left to this process, PID 1, counts too until reaped; the
// kernel reaps exec'd processes' children through their own parents).
func othersRunning(self int) bool {
	d, err := os.Open("/proc")
	if err != nil {
		return true // cannot tell: keep serving
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return true
	}
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid != self {
			return true
		}
	}
	return false
}
