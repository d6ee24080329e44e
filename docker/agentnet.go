package docker

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// On Podman every agent's container joins a bridge network of its own,
// made with the container and removed with it. Podman's netavark has no
// switch against traffic between the containers of one bridge (Docker's
// enable_icc=false), so two agents never share one; and traffic between
// two agents' bridges, which the host would forward, is dropped by
// Warder's own firewall rule (podmanfilter.go). Alone on its bridge, an
// agent reaches no other agent, of its user or another's, while Warder,
// on the host, still reaches it at its published port (or, without
// egress, at its container address): that traffic is the host's own,
// never forwarded. An internal agent's bridge also has forwarding off
// (netavark does that for internal networks), so nothing it sends
// leaves its bridge. Each network takes a
// /24 of Podman's default address pools (10.89.0.0/16 up to
// 10.255.255.0/24, some 42,000 networks), held only while the agent has a
// container. See docs/podman.md.

// LabelAgentNetwork marks a network made for one agent's container on
// Podman; its value is the deployment's network (AGENT_NETWORK), so two
// deployments on one engine never sweep each other's.
const LabelAgentNetwork = "warder.agent-network"

// agentNetworkGrace is how old an agent network with no container must be
// before a sweep removes it: Create makes the network moments before the
// container, and may pull an image in between (pullTimeout).
const agentNetworkGrace = 5 * time.Minute

// agentNetwork names the network of container (an agent's container
// name) on Podman: the deployment's network, or its internal twin, and
// the container's name, so it is known from either without asking the
// engine.
func agentNetwork(deployment, container string, internal bool) string {
	if internal {
		deployment = InternalNetwork(deployment)
	}
	return deployment + "-" + container
}

// ensureAgentNetwork makes the isolated network of container on Podman
// (one that exists is success) and returns its name.
func (r *Runtime) ensureAgentNetwork(ctx context.Context, container string, internal bool) (string, error) {
	if err := r.ensureIsolationRule(ctx); err != nil {
		return "", err
	}
	name := agentNetwork(r.cfg.Network, container, internal)
	return name, r.podmanCreateNetwork(ctx, name, internal, map[string]any{
		"labels":            map[string]string{warder.LabelManaged: "true", LabelAgentNetwork: r.cfg.Network},
		"options":           map[string]string{"isolate": "true"}, // netavark's own, as far as it goes
		"network_interface": agentBridge(name),                    // under Warder's rule (podmanfilter.go)
	})
}

// dropAgentNetworks removes, on Podman, the networks of the container
// that Remove was given (by id or name) and has removed, or found gone.
// gone means Remove found no container: then ref may be an id, which
// names no network, so the orphans older than agentNetworkGrace go as
// well. A network that will not go is logged, not returned: the agent's
// removal must not fail for it, and Setup's sweep tries again.
func (r *Runtime) dropAgentNetworks(ctx context.Context, ref string, gone bool) {
	if r.cfg.Network == "" {
		return
	}
	if podman, err := r.isPodman(ctx); err != nil || !podman {
		return
	}
	for _, internal := range []bool{false, true} {
		name := agentNetwork(r.cfg.Network, ref, internal)
		if _, err := r.cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			r.log.Warn("removing an agent's network", "network", name, "err", err)
		}
	}
	if gone {
		if err := r.sweepAgentNetworks(ctx, agentNetworkGrace); err != nil {
			r.log.Warn("removing agent networks left by removed containers", "err", err)
		}
	}
}

// sweepAgentNetworks removes this deployment's agent networks that no
// container is on and that are older than grace: those of containers
// removed behind Warder's back, or whose removal was interrupted.
func (r *Runtime) sweepAgentNetworks(ctx context.Context, grace time.Duration) error {
	nets, err := r.cli.NetworkList(ctx, client.NetworkListOptions{
		Filters: client.Filters{}.Add("label", LabelAgentNetwork+"="+r.cfg.Network),
	})
	if err != nil {
		return mapErr(err, "list agent networks")
	}
	if len(nets.Items) == 0 {
		return nil
	}
	used, err := r.networksInUse(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nets.Items {
		if used[n.Name] || time.Since(n.Created) < grace {
			continue
		}
		_, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		if err != nil && !isNotFound(err) {
			errs = append(errs, mapErr(err, "remove agent network "+n.Name))
		}
	}
	return errors.Join(errs...)
}

// networksInUse is the set of networks that any container is on.
func (r *Runtime) networksInUse(ctx context.Context) (map[string]bool, error) {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, mapErr(err, "list containers")
	}
	used := make(map[string]bool)
	for _, c := range res.Items {
		if c.NetworkSettings == nil {
			continue
		}
		for name := range c.NetworkSettings.Networks {
			used[name] = true
		}
	}
	return used, nil
}

// podmanNetworks is Setup's network step on Podman: Warder's isolation
// rule is put in place (or Setup says why it cannot), the deployment's two
// shared networks of an older Warder are retired (their agents moved to
// networks of their own), and the agent networks of containers that are
// gone are swept.
func (r *Runtime) podmanNetworks(ctx context.Context) error {
	if r.cfg.Network == "" {
		return nil
	}
	if err := r.ensureIsolationRule(ctx); err != nil {
		return err
	}
	for _, internal := range []bool{false, true} {
		name := r.cfg.Network
		if internal {
			name = InternalNetwork(name)
		}
		if err := r.retireSharedNetwork(ctx, name, internal); err != nil {
			return err
		}
	}
	return r.sweepAgentNetworks(ctx, agentNetworkGrace)
}

// retireSharedNetwork moves every agent container of this deployment off
// the shared network name, where agents could reach each other, onto a
// network of its own (connected first, so a running agent stays
// reachable), and removes name once nothing else is on it. A container
// that is not this deployment's agent keeps it, and Setup says so.
func (r *Runtime) retireSharedNetwork(ctx context.Context, name string, internal bool) error {
	nets, err := r.networks(ctx, name)
	if err != nil {
		return err
	}
	for _, n := range nets {
		info, err := r.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if isNotFound(err) {
			continue
		} else if err != nil {
			return mapErr(err, "inspect network "+name)
		}
		others := 0
		for id := range info.Network.Containers {
			c, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if isNotFound(err) {
				continue
			} else if err != nil {
				return mapErr(err, "inspect container "+id)
			}
			if c.Container.Config == nil || c.Container.Config.Labels[warder.LabelManaged] != r.cfg.Network {
				others++
				continue
			}
			own, err := r.ensureAgentNetwork(ctx, strings.TrimPrefix(c.Container.Name, "/"), internal)
			if err != nil {
				return err
			}
			if _, err := r.cli.NetworkConnect(ctx, own, client.NetworkConnectOptions{Container: id}); err != nil && !isConflict(err) {
				return mapErr(err, "connect "+id+" to "+own)
			}
			if _, err := r.cli.NetworkDisconnect(ctx, n.ID, client.NetworkDisconnectOptions{Container: id, Force: true}); err != nil && !isNotFound(err) {
				return mapErr(err, "disconnect "+id+" from "+name)
			}
		}
		if others > 0 {
			r.log.Warn("kept a shared network of an older Warder: containers that are not this deployment's agents are on it", "network", name, "containers", others)
			continue
		}
		r.log.Info("removed a shared network of an older Warder; each agent has a network of its own on Podman", "network", name)
		if _, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return mapErr(err, "remove network "+name)
		}
	}
	return nil
}
