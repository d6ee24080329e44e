package docker

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// iccOption is the bridge driver's switch for traffic between containers
// on the same bridge. Warder turns it off on both of its networks: every
// agent, of every user, shares them, so with it on any agent could open a
// connection to any other agent by address or by name (and spend its
// owner's LLM key). With it off the kernel drops bridge-to-bridge traffic
// while Warder, on the host, still reaches each agent at its published
// port or container address. Two networks serve any number of users, so
// the engine's address pools are never the limit (a network per user
// exhausts the default pools after a few dozen users).
const iccOption = "com.docker.network.bridge.enable_icc"

// isolating reports whether n keeps its containers from reaching each other.
func isolating(n network.Summary) bool { return n.Options[iccOption] == "false" }

// isolateNetwork replaces n, a network that lets containers talk to each
// other (made by an older Warder, or by hand as the seed's setup script
// does), with one of the same name that does not. A network a bridge's
// options cannot be changed on, so it is removed and made again: running
// agents are disconnected and reconnected (a few seconds without a
// network); stopped ones are given a new container at their next start,
// as after any container loss. A network with containers that are not
// Warder's is left alone and Setup fails, naming the fix: Warder will not
// run agents where they can reach each other.
func (r *Runtime) isolateNetwork(ctx context.Context, n network.Summary, internal bool) error {
	info, err := r.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
	if err != nil {
		return mapErr(err, "inspect network "+n.Name)
	}
	var ours []string
	for id, ep := range info.Network.Containers {
		c, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil && !isNotFound(err) {
			return mapErr(err, "inspect container "+id)
		}
		if err == nil && c.Container.Config != nil && c.Container.Config.Labels[warder.LabelAgentID] == "" {
			return fmt.Errorf("network %q lets its containers reach each other (%s is not false) and holds %s, which is not a Warder agent; "+
				"remove that container from it, or remove the network, and Warder will make it again isolated", n.Name, iccOption, strings.TrimPrefix(ep.Name, "/"))
		}
		ours = append(ours, id)
	}
	r.log.Warn("re-creating network so agents cannot reach each other", "network", n.Name, "running_agents", len(ours))
	for _, id := range ours {
		_, err := r.cli.NetworkDisconnect(ctx, n.ID, client.NetworkDisconnectOptions{Container: id, Force: true})
		if err != nil && !isNotFound(err) {
			return mapErr(err, "disconnect "+id+" from "+n.Name)
		}
	}
	if _, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
		return mapErr(err, "remove network "+n.Name)
	}
	if err := r.createNetwork(ctx, n.Name, internal); err != nil {
		return err
	}
	for _, id := range ours {
		_, err := r.cli.NetworkConnect(ctx, n.Name, client.NetworkConnectOptions{Container: id})
		if err != nil && !isNotFound(err) {
			return mapErr(err, "reconnect "+id+" to "+n.Name)
		}
	}
	return nil
}
