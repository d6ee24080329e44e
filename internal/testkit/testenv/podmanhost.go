package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// podmanHostState is what a rootful Podman leaves on the host beyond its
// own directories: netavark's iptables chains (they outlive the networks
// that needed them), Warder's isolation chain beside them, and the
// cgroups of the cgroupfs manager. Everything
// else it touches (network namespaces, runc state) is in the service's
// private /run, and its bridges and veths go with its containers.
type podmanHostState struct {
	chains  map[string][]string // "iptables -t nat" → its NETAVARK chains
	cgroups []string            // the libpod_parent cgroup directories
}

// netavarkPrefix starts the name of every chain netavark makes.
const netavarkPrefix = "NETAVARK"

// warderChain is the chain the Warder under test adds on Podman (the
// docker package's isolationChain), removed as netavark's are.
const warderChain = "WARDER-ISOLATION"

// podmanCgroups are where the cgroupfs manager puts containers and conmon.
const podmanCgroups = "/sys/fs/cgroup/*/libpod_parent"

var iptablesTables = []struct{ cmd, table string }{
	{"iptables", "filter"}, {"iptables", "nat"}, {"iptables", "mangle"},
	{"ip6tables", "filter"}, {"ip6tables", "nat"}, {"ip6tables", "mangle"},
}

func readPodmanHostState() (podmanHostState, error) {
	st := podmanHostState{chains: map[string][]string{}}
	for _, t := range iptablesTables {
		rules, err := iptablesRules(t.cmd, t.table)
		if err != nil {
			return st, err
		}
		st.chains[t.cmd+" "+t.table] = netavarkChains(rules)
	}
	st.cgroups, _ = filepath.Glob(podmanCgroups)
	return st, nil
}

// restore removes the NETAVARK chains, and the rules that jump to them,
// and the cgroups that were not there before.
func (before podmanHostState) restore() error {
	var errs []error
	for _, t := range iptablesTables {
		rules, err := iptablesRules(t.cmd, t.table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var added []string
		for _, c := range netavarkChains(rules) {
			if !slices.Contains(before.chains[t.cmd+" "+t.table], c) {
				added = append(added, c)
			}
		}
		if len(added) == 0 {
			continue
		}
		for _, r := range jumpsTo(rules, added) {
			errs = append(errs, iptables(t.cmd, t.table, append([]string{"-D"}, r...)...))
		}
		for _, c := range added {
			errs = append(errs, iptables(t.cmd, t.table, "-F", c))
		}
		for _, c := range added {
			errs = append(errs, iptables(t.cmd, t.table, "-X", c))
		}
	}
	now, _ := filepath.Glob(podmanCgroups)
	for _, dir := range now {
		if !slices.Contains(before.cgroups, dir) {
			errs = append(errs, removeCgroup(dir))
		}
	}
	return errors.Join(errs...)
}

// iptablesRules is iptables -S of one table: "-N CHAIN" and "-A CHAIN ..."
// lines. A missing command or table (no IPv6 here) is no rules.
func iptablesRules(cmd, table string) ([]string, error) {
	if _, err := exec.LookPath(cmd); err != nil {
		return nil, nil
	}
	out, err := exec.Command(cmd, "-w", "-t", table, "-S").Output()
	if err != nil {
		return nil, nil // the table does not exist in this kernel
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

func netavarkChains(rules []string) []string {
	var out []string
	for _, r := range rules {
		if name, ok := strings.CutPrefix(r, "-N "); ok && (strings.HasPrefix(name, netavarkPrefix) || name == warderChain) {
			out = append(out, name)
		}
	}
	return out
}

// jumpsTo lists, as -D arguments, the rules of chains not in chains that
// jump to one of chains.
func jumpsTo(rules, chains []string) [][]string {
	var out [][]string
	for _, r := range rules {
		f := splitRule(r)
		if len(f) < 2 || f[0] != "-A" || slices.Contains(chains, f[1]) {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if (f[i] == "-j" || f[i] == "-g") && slices.Contains(chains, f[i+1]) {
				out = append(out, f[1:])
				break
			}
		}
	}
	return out
}

func iptables(cmd, table string, args ...string) error {
	out, err := exec.Command(cmd, append([]string{"-w", "-t", table}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -t %s %s: %v: %s", cmd, table, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeCgroup removes an empty cgroup tree, deepest first.
func removeCgroup(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// splitRule splits a line of iptables -S into its arguments; iptables
// quotes an argument with spaces (a comment) in double quotes.
func splitRule(line string) []string {
	var (
		out    []string
		cur    strings.Builder
		quoted bool
		inArg  bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && quoted && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted, inArg = !quoted, true
		case c == ' ' && !quoted:
			if inArg {
				out = append(out, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		out = append(out, cur.String())
	}
	return out
}
