package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cpuSnapshot is the machine's busy CPU time and each process's own (and
// its reaped children's), in seconds, at one moment: two of them say where
// a phase's CPU went, by process group (whoCPU).
type cpuSnapshot struct {
	busy  float64
	procs map[int]procCPU
}

type procCPU struct {
	group string
	secs  float64
}

// takeCPU reads /proc/stat's busy time (all but idle and iowait) and every
// process's utime, stime, cutime and cstime (clock ticks of 1/100 s).
// warderPID names Warder's process; the test's own is "bench".
func takeCPU(b *testing.B, warderPID int) cpuSnapshot {
	b.Helper()
	s := cpuSnapshot{procs: map[int]procCPU{}}
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	for i, f := range strings.Fields(line)[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		v, _ := strconv.ParseFloat(f, 64)
		s.busy += v / 100
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		raw, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		open, close := strings.IndexByte(string(raw), '('), strings.LastIndexByte(string(raw), ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(raw[close+1:]))
		if len(f) < 15 {
			continue
		}
		var secs float64
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseFloat(f[i], 64)
			secs += v / 100
		}
		s.procs[pid] = procCPU{group: groupOf(pid, string(raw[open+1:close]), warderPID), secs: secs}
	}
	return s
}

// groupOf names the part of the system a process is.
func groupOf(pid int, comm string, warderPID int) string {
	switch {
	case pid == warderPID:
		return "warder"
	case pid == os.Getpid():
		return "bench"
	case strings.HasPrefix(comm, "containerd-shim"):
		return "shims"
	case comm == "dockerd", comm == "containerd", comm == "docker-proxy", comm == "warder-agent":
		return comm
	}
	return "other"
}

// cpuTally adds up the CPU of several spans (pairs of snapshots): the
// machine's busy time and each process group's.
type cpuTally struct {
	busy   float64
	groups map[string]float64
}

// add counts the span from s0 to s: a process that began meanwhile counts
// whole, one that ended meanwhile is lost to its group (it shows in the
// machine's total).
func (t *cpuTally) add(s0, s cpuSnapshot) {
	if t.groups == nil {
		t.groups = map[string]float64{}
	}
	t.busy += s.busy - s0.busy
	for pid, p := range s.procs {
		d := p.secs
		if p0, ok := s0.procs[pid]; ok && p0.group == p.group {
			d -= p0.secs
		}
		t.groups[p.group] += d
	}
}

// String is the machine's CPU seconds, then each group's, busiest first.
func (t cpuTally) String() string {
	names := make([]string, 0, len(t.groups))
	for g := range t.groups {
		names = append(names, g)
	}
	slices.SortFunc(names, func(a, b string) int { return int(1000 * (t.groups[b] - t.groups[a])) })
	out := fmt.Sprintf("machine %.1f CPU-s", t.busy)
	for _, g := range names {
		out += fmt.Sprintf(", %s %.1f", g, t.groups[g])
	}
	return out
}

// since reports the CPU seconds spent between s0 and s, in all and by
// group, busiest first.
func (s cpuSnapshot) since(s0 cpuSnapshot) string {
	var t cpuTally
	t.add(s0, s)
	return t.String()
}
