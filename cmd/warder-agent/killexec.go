package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// kill-exec -gid GID | -tree MARKER: SIGKILL every process of one exec.
// Warder runs it in the agent's process namespace when an exec times
// out, its caller leaves, or it exits leaving processes behind.
//
// -gid (Docker): the exec ran with primary group GID, which none of its
// processes can change (no CAP_SETGID, no-new-privileges): every process
// whose real, effective or saved gid is GID.
//
// -tree (Kubernetes): the exec runs under "with-env MARKER", a child
// subreaper, so all it started (orphans, double-forked daemons) stays
// below it: every descendant of that process, then itself.
//
// They are stopped before they are killed, so a chain forking on and
// exiting cannot outrun the scans (see killUntilNone); it fails if they
// do not all end within a few seconds.
// It prints how many processes it killed.
func builtinKillExec(args []string, _ io.Reader, out, errw io.Writer) int {
	if len(args) != 2 || args[1] == "" || (args[0] != "-gid" && args[0] != "-tree") {
		fmt.Fprintln(errw, "usage: kill-exec -gid GID | -tree MARKER")
		return 2
	}
	var match func(procs map[int]procInfo) []int
	if args[0] == "-gid" {
		gid, err := strconv.Atoi(args[1])
		if err != nil || gid <= 0 {
			fmt.Fprintln(errw, "kill-exec: not a gid:", args[1])
			return 2
		}
		match = func(procs map[int]procInfo) []int {
			var pids []int
			for pid, p := range procs {
				if p.gids[0] == gid || p.gids[1] == gid || p.gids[2] == gid {
					pids = append(pids, pid)
				}
			}
			return pids
		}
	} else {
		match = func(procs map[int]procInfo) []int {
			root := wrapperOf(args[1], procs)
			if root == 0 {
				return nil
			}
			pids := descendants(root, procs)
			if len(pids) == 0 {
				pids = []int{root} // the wrapper last, once alone
			}
			return pids
		}
	}
	killed, ok := killUntilNone(match)
	fmt.Fprintln(out, killed)
	if !ok {
		fmt.Fprintln(errw, "kill-exec: processes still alive after the last scan")
		return 1
	}
	return 0
}

// killUntilNone ends what match picks among the live processes so that
// none of them can make a process the scans miss. A killed process
// vanishes from /proc while a child it was forking may not show yet (its
// pid given out, the process not listed), and a chain forking on and
// exiting stays ahead of kills that each land on a process that already
// forked. So each process picked is first stopped (SIGSTOP: a stopped
// process forks no more and stays listed), and all are killed only once
// two scans in a row pick the same processes, every thread of each held
// (stopped, or blocked in the kernel as a vfork's parent is), with no pid
// given out in the pid namespace since the first of them began (its last
// pid unchanged): a fork in flight during the first scan shows its child
// in the second. One still moving after ten stops (another process of
// the command sent it SIGCONT) is killed right away. Then it scans until
// three scans in a row pick none while no pid is given out; false if that
// never happens in time.
func killUntilNone(match func(map[int]procInfo) []int) (killed int, ok bool) {
	deadline := time.Now().Add(5 * time.Second)
	stops := map[int]int{} // SIGSTOPs sent, by pid
	var held []int         // what the last scan picked, all held and quiet
	heldSince := ""        // the last pid before that scan
	for clean := 0; clean < 3; {
		if time.Now().After(deadline) {
			return killed, false
		}
		before := lastPid()
		procs := liveProcs()
		pids := match(procs)
		quiet := lastPid() == before
		if len(pids) == 0 {
			held = nil
			if quiet {
				clean++
			} else {
				clean = 0
			}
			continue
		}
		clean = 0
		sort.Ints(pids)
		moving := false
		for _, pid := range pids {
			switch {
			case procs[pid].held:
			case stops[pid] >= 10:
				moving = true
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			default:
				moving = true
				stops[pid]++
				syscall.Kill(pid, syscall.SIGSTOP)
			}
		}
		switch {
		case moving || !quiet:
			held = nil
		case !slices.Equal(held, pids):
			held, heldSince = pids, before
		case lastPid() != heldSince:
			held = nil
		default:
			for _, pid := range pids {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
			held = nil
		}
		time.Sleep(time.Millisecond)
	}
	return killed, true
}

// lastPid is the last pid given out in this pid namespace, "" if unknown.
func lastPid() string {
	b, _ := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	return string(b)
}

// procInfo is what /proc/PID/status and its threads' stat say of a
// process.
type procInfo struct {
	ppid int
	gids [3]int // real, effective, saved
	held bool   // every live thread stopped, or blocked in the kernel
}

// liveProcs reads every process but this one and the dead: a process is
// dead once every thread of it is (its first thread shows as a zombie
// while another may still run, even fork).
func liveProcs() map[int]procInfo {
	procs := map[int]procInfo{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		st, err := os.ReadFile("/proc/" + d.Name() + "/status")
		if err != nil {
			continue // gone meanwhile
		}
		p := procInfo{gids: [3]int{-1, -1, -1}}
		for _, line := range strings.Split(string(st), "\n") {
			k, v, _ := strings.Cut(line, ":\t")
			f := strings.Fields(v)
			switch {
			case k == "PPid" && len(f) > 0:
				p.ppid, _ = strconv.Atoi(f[0])
			case k == "Gid" && len(f) >= 3:
				for i := range p.gids {
					p.gids[i], _ = strconv.Atoi(f[i])
				}
			}
		}
		live, held := threadStates(d.Name())
		if live > 0 {
			p.held = held == live
			procs[pid] = p
		}
	}
	return procs
}

// threadStates counts the live threads of process pid and, of them, the
// held ones: stopped (T, t), or in uninterruptible sleep (D: a vfork's
// parent waits so until its child execs, and a stopped child never does).
func threadStates(pid string) (live, held int) {
	tasks, _ := os.ReadDir("/proc/" + pid + "/task")
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/" + pid + "/task/" + t.Name() + "/stat")
		i := bytes.LastIndexByte(b, ')') // the name may hold anything
		if err != nil || i < 0 || i+2 >= len(b) {
			continue // gone meanwhile
		}
		switch b[i+2] {
		case 'Z', 'X', 'x':
		case 'T', 't', 'D':
			live++
			held++
		default:
			live++
		}
	}
	return live, held
}

// wrapperOf is the pid of the live "with-env MARKER" process, or 0.
func wrapperOf(marker string, procs map[int]procInfo) int {
	want := "\x00with-env\x00" + marker + "\x00"
	for pid := range procs {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && strings.Contains(string(cmd), want) {
			return pid
		}
	}
	return 0
}

// descendants are the processes below root, by their parents.
func descendants(root int, procs map[int]procInfo) []int {
	var pids []int
	for pid := range procs {
		for p, hops := procs[pid].ppid, 0; p > 1 && hops < len(procs); p, hops = procs[p].ppid, hops+1 {
			if p == root {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
