package service

import (
	"context"
	"slices"
	"time"

	"github.com/warder/warder"
)

// EgressLists is the operator's say over agents' container_config.egress
// (internal/app backs it with package egress: the policy language, the
// default and the ceiling).
type EgressLists interface {
	// Check parses entries and checks them against the operator's
	// ceiling, returning them in canonical form (["none"], ["all"], or
	// one entry per rule). Errors wrap ErrInvalid or ErrForbidden and
	// name the entry at fault.
	Check(entries []string) ([]string, error)
	// Effective is the policy the proxy enforces for entries now: those
	// of them the ceiling still allows.
	Effective(entries []string) []string
	// Default is the egress of an agent that names neither egress nor a
	// network (WARDER_EGRESS_DEFAULT); nil: the default network decides.
	Default() []string
	// Proxied reports whether this deployment has an egress proxy,
	// without which a list can be neither reached nor enforced.
	Proxied() bool
}

// applyEgress settles container_config.egress and the network it puts
// the agent on, before applyNetwork fills in the network's default: a
// list or "none" is the internal network, "all" the egress one. An agent
// without a policy keeps the older meaning (its network decides), and
// "egress" must then be within the ceiling as "all" would.
func (s *Agents) applyEgress(cc *warder.ContainerConfig) error {
	lists := s.cfg.Egress.Lists
	if cc.Egress == nil && cc.Network == "" && lists != nil {
		cc.Egress = slices.Clone(lists.Default())
	}
	if cc.Egress == nil {
		network := cmpOr(cc.Network, s.cfg.Egress.Default, warder.NetworkEgress)
		if network == warder.NetworkEgress && lists != nil && !s.cfg.Egress.Forbid { // forbidden: applyNetwork says so
			if _, err := lists.Check([]string{warder.EgressAll}); err != nil {
				return warder.Errorf(warder.ErrForbidden, `container_config.network "egress" reaches everything, which the operator's egress ceiling does not allow (%s); give container_config.egress a list`, warder.ErrorMessage(err))
			}
		}
		return nil
	}
	entries, err := checkEgress(lists, cc.Egress)
	if err != nil {
		return err
	}
	want := warder.NetworkInternal
	if len(entries) == 1 && entries[0] == warder.EgressAll {
		want = warder.NetworkEgress
	}
	if warder.Egress(entries).Listed() && (lists == nil || !lists.Proxied()) {
		return warder.Errorf(warder.ErrInvalid, `container_config.egress lists destinations, but this deployment has no egress proxy (see docs/egress.md); use "none" or "all"`)
	}
	if cc.Network != "" && cc.Network != want {
		return warder.Errorf(warder.ErrInvalid, "container_config.network %q contradicts container_config.egress %q, which puts the agent on %q: leave the network out", cc.Network, warder.Egress(entries), want)
	}
	cc.Network, cc.Egress = want, entries
	return nil
}

// checkEgress is lists.Check, or with no lists the words alone.
func checkEgress(lists EgressLists, entries []string) ([]string, error) {
	if lists != nil {
		return lists.Check(entries)
	}
	if len(entries) == 1 && (entries[0] == warder.EgressNone || entries[0] == warder.EgressAll) {
		return entries, nil
	}
	return nil, warder.Errorf(warder.ErrInvalid, `container_config.egress must be "none" or "all" here: this deployment has no egress proxy`)
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// egressMayStart refuses to start an agent on the egress network (all
// of the outside) once the operator's ceiling no longer allows that. A
// list needs no check here: the proxy enforces what the ceiling allows
// of it at each connection.
func (s *Agents) egressMayStart(a *warder.Agent) error {
	lists := s.cfg.Egress.Lists
	if lists == nil || a.ContainerConfig.Network != warder.NetworkEgress {
		return nil
	}
	if _, err := lists.Check([]string{warder.EgressAll}); err != nil {
		return warder.Errorf(warder.ErrForbidden, `the agent reaches everything (network "egress"), which the operator's egress ceiling no longer allows (%s); give its container_config.egress a list first`, warder.ErrorMessage(err))
	}
	return nil
}

// egressWindow is how far back GET /api/agents/{id}/egress counts
// refusals, and egressRows how many of the audit log's summaries it
// reads at most.
const (
	egressWindow = 24 * time.Hour
	egressRows   = 1000
)

// AgentEgress is GET /api/agents/{id}/egress: the policy in force and
// the refusals of the last day, from the audit log's summaries (which
// every replica's proxy writes, so any replica answers alike).
func (s *Agents) AgentEgress(ctx context.Context, caller *warder.User, id string) (*warder.AgentEgress, error) {
	a, err := s.visible(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	cc := a.ContainerConfig
	out := &warder.AgentEgress{Network: cc.Network, Since: time.Now().UTC().Add(-egressWindow).Truncate(time.Second), Refusals: []warder.EgressRefusal{}}
	switch {
	case cc.Egress == nil && cc.Network == warder.NetworkInternal:
		out.Egress = warder.Egress{warder.EgressNone}
	case cc.Egress == nil:
		out.Egress = warder.Egress{warder.EgressAll}
	case cc.Egress.Listed() && s.cfg.Egress.Lists != nil:
		out.Egress, out.Proxied = s.cfg.Egress.Lists.Effective(cc.Egress), true
	default:
		out.Egress = cc.Egress
	}
	rows, err := s.store.AuditEntries(ctx, warder.AuditFilter{AgentID: a.ID, Since: out.Since, Limit: egressRows})
	if err != nil {
		return nil, err
	}
	byKey := map[[2]string]int{}
	for _, e := range rows { // newest first
		r, ok := warder.ParseEgressAudit(e)
		if !ok {
			continue
		}
		out.Refused += r.Count
		k := [2]string{r.Destination, r.Reason}
		if i, seen := byKey[k]; seen {
			out.Refusals[i].Count += r.Count
			continue
		}
		byKey[k] = len(out.Refusals)
		out.Refusals = append(out.Refusals, r)
	}
	return out, nil
}
