package main

import (
	"fmt"
	"io"
	"os"
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
// A process forking while it is killed makes no child; a child made
// before shows in the next scan. It scans until three scans in a row find
// nothing alive and no process was made meanwhile, for a few seconds at
// most, and fails if they never do.
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

// killUntilNone SIGKILLs what match picks among the live processes until
// three scans in a row pick none while no process is made in the pid
// namespace (its last pid unchanged): a process that forks and exits
// between a scan's listing and its read of the process would be missed,
// but not without a new pid. False if that never happens in time.
func killUntilNone(match func(map[int]procInfo) []int) (killed int, ok bool) {
	deadline := time.Now().Add(5 * time.Second)
	for clean := 0; clean < 3; {
		if time.Now().After(deadline) {
			return killed, false
		}
		before := lastPid()
		pids := match(liveProcs())
		if len(pids) == 0 {
			if lastPid() == before {
				clean++
			} else {
				clean = 0
			}
			continue
		}
		clean = 0
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		time.Sleep(5 * time.Millisecond) // for the killed to die
	}
	return killed, true
}

// lastPid is the last pid given out in this pid namespace, "" if unknown.
func lastPid() string {
	b, _ := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	return string(b)
}

// procInfo is what /proc/PID/status says of a process.
type procInfo struct {
	ppid int
	gids [3]int // real, effective, saved
}

// liveProcs reads every process but this one and the dead (zombies).
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
		p, live := procInfo{gids: [3]int{-1, -1, -1}}, true
		for _, line := range strings.Split(string(st), "\n") {
			k, v, _ := strings.Cut(line, ":\t")
			f := strings.Fields(v)
			switch {
			case k == "State" && len(f) > 0:
				live = f[0] != "Z" && f[0] != "X"
			case k == "PPid" && len(f) > 0:
				p.ppid, _ = strconv.Atoi(f[0])
			case k == "Gid" && len(f) >= 3:
				for i := range p.gids {
					p.gids[i], _ = strconv.Atoi(f[i])
				}
			}
		}
		if live {
			procs[pid] = p
		}
	}
	return procs
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
