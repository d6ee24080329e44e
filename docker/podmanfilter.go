package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Podman's own isolation between networks cannot be relied on alone:
// netavark 1.4 (Debian 12) drops traffic between "isolate" bridges
// through one shared rule (FORWARD -j NETAVARK_ISOLATION_1) that it
// deletes whenever any isolated network on the host loses its last
// container, and puts back only when one is set up again; with a network
// per agent, every agent that stops opened every other agent to the rest
// until the next start. So Warder keeps its own rule, which netavark never
// touches: every agent's bridge is named with agentBridgePrefix, and
// traffic forwarded from one such bridge to another is dropped in the
// mangle table's FORWARD chain, which the kernel runs before the filter
// table's, where netavark (and Docker) accept forwarded traffic. Warder
// can add it only as root on the engine's own host; elsewhere it refuses
// to run agents on Podman (podmanFilterError).

// agentBridgePrefix begins the name of every agent's bridge on Podman:
// "wrd" and 12 hex digits of the network's name, within Linux's 15.
const agentBridgePrefix = "wrd"

// isolationChain is Warder's chain in the mangle table, jumped to from
// FORWARD; one for every Warder on the host, since the rule holds for all.
const isolationChain = "WARDER-ISOLATION"

// isolationRule drops what one agent bridge forwards to another.
var isolationRule = []string{"-i", agentBridgePrefix + "+", "-o", agentBridgePrefix + "+",
	"-m", "comment", "--comment", "warder: agents on Podman never reach each other", "-j", "DROP"}

// agentBridge names the bridge of the agent network called network.
func agentBridge(network string) string {
	sum := sha256.Sum256([]byte(network))
	return agentBridgePrefix + hex.EncodeToString(sum[:])[:12]
}

// ensureIsolationRule adds Warder's chain, its rule and FORWARD's jump to
// it where any is missing (after a firewall reload, too), or says why it
// cannot.
func (r *Runtime) ensureIsolationRule(ctx context.Context) error {
	if !localEngine(r.cli.DaemonHost()) {
		return podmanFilterError("the engine is not on this host (" + r.cli.DaemonHost() + ")")
	}
	if os.Geteuid() != 0 {
		return podmanFilterError("Warder does not run as root")
	}
	if err := ensureMangleChain(ctx, isolationChain, isolationRule); err != nil {
		return podmanFilterError(err.Error())
	}
	return nil
}

// ErrPodmanUnisolated is why Warder will not run agents on Podman where it
// cannot add its isolation rule: they could reach each other.
var ErrPodmanUnisolated = errors.New("on Podman, Warder keeps agents from reaching each other with a firewall rule of its own on the engine's host (iptables, mangle table), and cannot add it here; it runs no agents on Podman until it can: run Warder as root on the engine's host, with iptables (docs/podman.md)")

func podmanFilterError(why string) error {
	return fmt.Errorf("%w: %s", ErrPodmanUnisolated, why)
}
