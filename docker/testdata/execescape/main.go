// Command execescape is what the exec tests (docker/exec_test.go) run in
// an agent to get away from its exec: it re-executes itself with an
// empty environment, double-forks into a new session, and tries every
// way it knows to change its group ids or act through a process that is
// not its exec's. Built static, into an image FROM scratch, by the tests.
//
//	execescape reexec SECONDS         exec itself with no environment, then sleep
//	execescape daemon SECONDS WAIT    double-fork (setsid, no environment, stdio
//	                                  on /dev/null) a sleeper, then sleep WAIT
//	execescape hop MS                 fork itself (new session, no environment)
//	                                  after MS ms and exit, forever: a moving
//	                                  process
//	execescape hopper SECONDS         start a hop chain (hop 0), then sleep
//	execescape attack                 try to change gid; print what happened,
//	                                  exit 1 if any attempt got out
//	execescape count                  print how many other live execescape
//	                                  processes there are (under gVisor, where
//	                                  the engine's top cannot tell)
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: execescape reexec|daemon|attack ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "reexec":
		// The clean environment takes WARDER_EXEC_ID and everything else.
		err := syscall.Exec("/proc/self/exe", []string{"execescape", "sleeping", args[0]}, []string{})
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(1)
	case "daemon":
		spawn("daemon-child", args[0])
		fmt.Println("daemon started")
		sleep(args[1])
	case "daemon-child":
		spawn("sleeping", args[0])
	case "hop":
		ms, _ := strconv.Atoi(args[0])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		spawn("hop", args[0])
	case "hopper":
		spawn("hop", "0")
		sleep(args[0])
	case "sleeping":
		sleep(args[0])
	case "attack":
		if !attack() {
			os.Exit(1)
		}
	case "count":
		fmt.Println(count())
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// spawn starts this program again as mode in a new session, with no
// environment and its stdio on /dev/null, and does not wait for it.
func spawn(mode, seconds string) {
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, err = os.StartProcess("/proc/self/exe", []string{"execescape", mode, seconds}, &os.ProcAttr{
		Env: []string{}, Files: []*os.File{null, null, null}, Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "spawn:", err)
		os.Exit(1)
	}
}

func sleep(seconds string) {
	n, _ := strconv.Atoi(seconds)
	time.Sleep(time.Duration(n) * time.Second)
}

// attack tries to leave its primary group, or to have a process outside
// its exec do something for it. It reports each attempt; false if one
// succeeded.
func attack() bool {
	before := gids()
	fmt.Println("gids before:", before)
	held := true
	try := func(what string, err error) {
		if err == nil {
			held = false
			fmt.Println("ESCAPED:", what, "succeeded; gids now", gids())
		} else {
			fmt.Println("refused:", what+":", err)
		}
	}
	for _, g := range []int{0, 65534, 1000} {
		try(fmt.Sprintf("setresgid(%d)", g), errno(syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(g), uintptr(g), uintptr(g))))
		try(fmt.Sprintf("setregid(%d)", g), errno(syscall.RawSyscall(syscall.SYS_SETREGID, uintptr(g), uintptr(g), 0)))
		try(fmt.Sprintf("setgid(%d)", g), errno(syscall.RawSyscall(syscall.SYS_SETGID, uintptr(g), 0, 0)))
		try(fmt.Sprintf("setgroups([%d])", g), syscall.Setgroups([]int{g}))
	}
	// setfsgid answers the old value whatever happens: check its effect.
	syscall.RawSyscall(syscall.SYS_SETFSGID, 65534, 0, 0)
	if g := gids(); g != before {
		try("setfsgid(65534)", nil)
	} else {
		try("setfsgid(65534)", fmt.Errorf("no effect"))
	}
	// A new user namespace would give every capability inside it.
	try("unshare(CLONE_NEWUSER)", syscall.Unshare(syscall.CLONE_NEWUSER))
	if g := gids(); g != before {
		try("gids unchanged after unshare", nil)
	}
	// A process of another group (the agent's own, another exec's) could
	// be made to fork for it: through ptrace or its memory.
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		st, _ := os.ReadFile("/proc/" + d.Name() + "/status")
		if strings.Contains(string(st), "\nGid:\t"+before+"\n") {
			continue // one of ours
		}
		try(fmt.Sprintf("ptrace(SEIZE, %d)", pid), errno(syscall.RawSyscall6(syscall.SYS_PTRACE, 0x4206 /* PTRACE_SEIZE */, uintptr(pid), 0, 0, 0, 0)))
		f, err := os.OpenFile("/proc/"+d.Name()+"/mem", os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		try(fmt.Sprintf("open /proc/%d/mem for writing", pid), err)
	}
	// A file of another group with the setgid bit, executed: make one.
	for _, dir := range []string{"/data", "/tmp", os.Getenv("HOME")} {
		if dir == "" {
			continue
		}
		p := dir + "/execescape-setgid"
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			continue
		}
		f.Close()
		try("chown "+p+" to group 65534", os.Lchown(p, -1, 65534))
		os.Remove(p)
	}
	if g := gids(); g != before {
		held = false
		fmt.Println("ESCAPED: gids changed to", g)
	}
	fmt.Println("gids after:", gids())
	return held
}

// gids is this process's "Gid:" line of /proc/self/status: real,
// effective, saved and filesystem gid.
func gids() string {
	st, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(st), "\n") {
		if g, ok := strings.CutPrefix(l, "Gid:\t"); ok {
			return g
		}
	}
	return "?"
}

func errno(_, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// count is how many live processes other than this one run execescape.
func count() int {
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		st, err2 := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil || err2 != nil || !strings.Contains(string(cmd), "execescape") {
			continue
		}
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && i+2 < len(st) && st[i+2] != 'Z' && st[i+2] != 'X' {
			n++
		}
	}
	return n
}
