package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Docker keeps its internal networks internal with its own filter rules
// (DOCKER-ISOLATION-STAGE-1), but it rewrites them, and the jumps to
// them, whenever any network is made or removed on the host: for a
// moment FORWARD has no isolation jump, and a packet from an internal
// agent to another agent's published port meets only the DOCKER chain,
// which accepts it (seen: an internal agent reached an egress agent
// while other networks were being made). Where Warder runs as root beside
// the engine it adds a guard of its own that the engine never touches: a
// chain in the mangle table, which runs before the filter table, dropping
// whatever is forwarded out of or into the internal network's bridge
// (traffic within the bridge, and between the host and its agents, is
// not forwarded across it and passes). Elsewhere Docker's own rules are
// all there is.

// internalGuardChain is Warder's chain in the mangle table for Docker's
// internal networks, jumped to from FORWARD.
const internalGuardChain = "WARDER-INTERNAL"

// guardRules are the guard's rules for bridge br.
func guardRules(br string) [][]string {
	return [][]string{
		{"-i", br, "!", "-o", br, "-j", "DROP"},
		{"!", "-i", br, "-o", br, "-j", "DROP"},
	}
}

// canGuard reports whether Warder can keep the guard here: root, beside
// a local engine, with iptables.
func (r *Runtime) canGuard() bool {
	if os.Geteuid() != 0 || !localEngine(r.cli.DaemonHost()) {
		return false
	}
	_, err := exec.LookPath("iptables")
	return err == nil
}

// mangle runs iptables on the mangle table.
func mangle(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "mangle"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureMangleChain makes chain in the mangle table with rules, and
// FORWARD's jump to it first, adding only what is missing (after a
// firewall reload, too): -N fails for a chain that exists, -C tells
// whether a rule does. Podman's isolation rule and Docker's internal
// guard both live so.
func ensureMangleChain(ctx context.Context, chain string, rules ...[]string) error {
	if mangle(ctx, "-n", "-L", chain) != nil {
		if err := mangle(ctx, "-N", chain); err != nil && mangle(ctx, "-n", "-L", chain) != nil {
			return err
		}
	}
	for _, rule := range rules {
		if mangle(ctx, append([]string{"-C", chain}, rule...)...) != nil {
			if err := mangle(ctx, append([]string{"-A", chain}, rule...)...); err != nil {
				return err
			}
		}
	}
	if mangle(ctx, "-C", "FORWARD", "-j", chain) != nil {
		return mangle(ctx, "-I", "FORWARD", "1", "-j", chain)
	}
	return nil
}

// bridgeName is the Linux bridge of a Docker bridge network.
func bridgeName(n network.Inspect) string {
	if b := n.Options["com.docker.network.bridge.name"]; b != "" {
		return b
	}
	return "br-" + n.ID[:12]
}

// guardInternal adds the guard for the deployment's internal network
// where it is missing (after a firewall reload, too); Setup calls it.
func (r *Runtime) guardInternal(ctx context.Context) error {
	if !r.canGuard() {
		return nil
	}
	res, err := r.cli.NetworkInspect(ctx, InternalNetwork(r.cfg.Network), client.NetworkInspectOptions{})
	if err != nil {
		return mapErr(err, "inspect network "+InternalNetwork(r.cfg.Network))
	}
	if err := ensureMangleChain(ctx, internalGuardChain, guardRules(bridgeName(res.Network))...); err != nil {
		return err
	}
	pruneGuard(ctx)
	return nil
}

// pruneGuard removes the rules of bridges that no longer exist: networks
// removed by an engine client other than Warder, or by a Warder that
// could not reach this host's firewall then.
func pruneGuard(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", "mangle", "-S", internalGuardChain).Output()
	if err != nil {
		return
	}
	gone := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if (f[i] == "-i" || f[i] == "-o") && strings.HasPrefix(f[i+1], "br-") {
				if _, err := net.InterfaceByName(f[i+1]); err != nil {
					gone[f[i+1]] = true
				}
			}
		}
	}
	for br := range gone {
		for _, rule := range guardRules(br) {
			for mangle(ctx, append([]string{"-D", internalGuardChain}, rule...)...) == nil {
			}
		}
	}
}

// unguard removes the guard's rules for network id's bridge (the network
// is being removed); the chain and its jump stay, empty at worst.
func (r *Runtime) unguard(ctx context.Context, n network.Inspect) {
	// The rules are this host's whichever engine client removes the
	// network: no check of the engine's place here.
	if _, err := exec.LookPath("iptables"); err != nil || os.Geteuid() != 0 || !n.Internal {
		return
	}
	for _, rule := range guardRules(bridgeName(n)) {
		for mangle(ctx, append([]string{"-D", internalGuardChain}, rule...)...) == nil {
		}
	}
}
