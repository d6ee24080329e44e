package opensandbox

import (
	"net/http"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// The network policy is the agent's egress setting (docs/egress.md),
// shown and changed in the spec's terms. A change to a running agent's
// list takes effect within seconds, without a restart.

func (h *Handler) getPolicy(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	a, err := c.Agent(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	p := policyOf(a.ContainerConfig.Egress, a.ContainerConfig.Network)
	writeJSON(w, http.StatusOK, policyStatus{Status: "applied", Mode: "warder-egress-proxy", EnforcementMode: "proxy", Policy: &p})
	return nil
}

func (h *Handler) patchPolicy(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	var rules []networkRule
	if err := decode(r, &rules); err != nil {
		return err
	}
	return h.editPolicy(w, r, c, func(p networkPolicy) networkPolicy { return mergeRules(p, rules) })
}

func (h *Handler) deletePolicyRules(w http.ResponseWriter, r *http.Request, c *client.Client) error {
	var targets []string
	if err := decode(r, &targets); err != nil {
		return err
	}
	return h.editPolicy(w, r, c, func(p networkPolicy) networkPolicy { return dropRules(p, targets) })
}

// editPolicy changes the agent's egress through Warder's API, which
// holds it to the operator's ceiling (403 naming the entry).
func (h *Handler) editPolicy(w http.ResponseWriter, r *http.Request, c *client.Client, edit func(networkPolicy) networkPolicy) error {
	id := r.PathValue("id")
	a, err := c.Agent(r.Context(), id)
	if err != nil {
		return err
	}
	p := edit(policyOf(a.ContainerConfig.Egress, a.ContainerConfig.Network))
	eg, err := egressOf(&p)
	if err != nil {
		return badRequest("%v", err)
	}
	a, err = c.UpdateAgent(r.Context(), id, wire.AgentUpdate{ContainerConfig: &wire.ContainerConfigUpdate{Egress: &eg}})
	if err != nil {
		return err
	}
	now := policyOf(a.ContainerConfig.Egress, a.ContainerConfig.Network)
	writeJSON(w, http.StatusOK, policyStatus{Status: "applied", Mode: "warder-egress-proxy", EnforcementMode: "proxy", Policy: &now})
	return nil
}
