package opensandbox

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/wire"
)

// configKey is where a sandbox keeps, in its agent's free-form config,
// what OpenSandbox has and Warder's agent has not: metadata, the
// expiration, the entrypoint asked for. The agent's owner sees it in
// Warder's own API too; it does not reach the container, so it can
// change while the agent runs.
const configKey = warder.ControlConfigKey

// keepAlive is the SDKs' default entrypoint: it only keeps a container
// running, which Warder's default image does by itself.
var keepAlive = []string{"tail", "-f", "/dev/null"}

// sandboxMeta is the part of an agent's config that configKey holds.
type sandboxMeta struct {
	Metadata   map[string]string
	ExpiresAt  *time.Time
	Entrypoint []string
	SnapshotID string
}

// metaOf reads the sandbox fields from an agent's config; an agent made
// through Warder's own API has none, and is a sandbox all the same.
func metaOf(cfg map[string]any) sandboxMeta {
	var m sandboxMeta
	raw, _ := cfg[configKey].(map[string]any)
	if md, ok := raw["metadata"].(map[string]any); ok {
		m.Metadata = make(map[string]string, len(md))
		for k, v := range md {
			if s, ok := v.(string); ok {
				m.Metadata[k] = s
			}
		}
	}
	if s, ok := raw["expires_at"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			m.ExpiresAt = &t
		}
	}
	if ep, ok := raw["entrypoint"].([]any); ok {
		for _, v := range ep {
			if s, ok := v.(string); ok {
				m.Entrypoint = append(m.Entrypoint, s)
			}
		}
	}
	m.SnapshotID, _ = raw["snapshot_id"].(string)
	return m
}

// withMeta returns cfg (copied) with m in it.
func withMeta(cfg map[string]any, m sandboxMeta) map[string]any {
	out := make(map[string]any, len(cfg)+1)
	for k, v := range cfg {
		out[k] = v
	}
	raw := map[string]any{}
	if len(m.Metadata) > 0 {
		md := make(map[string]any, len(m.Metadata))
		for k, v := range m.Metadata {
			md[k] = v
		}
		raw["metadata"] = md
	}
	if m.ExpiresAt != nil {
		raw["expires_at"] = m.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if len(m.Entrypoint) > 0 {
		ep := make([]any, len(m.Entrypoint))
		for i, s := range m.Entrypoint {
			ep[i] = s
		}
		raw["entrypoint"] = ep
	}
	if m.SnapshotID != "" {
		raw["snapshot_id"] = m.SnapshotID
	}
	out[configKey] = raw
	return out
}

// stateOf maps an agent's status onto the lifecycle spec's states.
func stateOf(a *wire.Agent) (state, reason string) {
	switch a.Status {
	case wire.StatusCreated, wire.StatusStarting:
		return statePending, string(a.Status)
	case wire.StatusRunning:
		return stateRunning, string(a.Status)
	case wire.StatusPaused:
		return statePaused, string(a.Status)
	case wire.StatusStopping:
		return stateStopping, string(a.Status)
	case wire.StatusExited:
		if a.ExitCode != nil && *a.ExitCode != 0 {
			return stateFailed, string(a.Status)
		}
		return stateTerminated, string(a.Status)
	case wire.StatusFailed, wire.StatusMissing:
		return stateFailed, string(a.Status)
	default: // stopped, deleted
		return stateTerminated, string(a.Status)
	}
}

// toSandbox is an agent as the lifecycle API shows a sandbox.
func toSandbox(a *wire.Agent) sandboxInfo {
	m := metaOf(a.Config)
	state, reason := stateOf(a)
	s := sandboxInfo{
		ID:         a.ID,
		Image:      &imageSpec{URI: a.ContainerConfig.Image},
		SnapshotID: m.SnapshotID,
		Status:     sandboxStatus{State: state, Reason: reason, Message: a.StatusReason},
		Metadata:   m.Metadata,
		Entrypoint: m.Entrypoint,
		ExpiresAt:  m.ExpiresAt,
		CreatedAt:  a.CreatedAt,
	}
	if !a.StatusChangedAt.IsZero() {
		t := a.StatusChangedAt
		s.Status.LastTransitionAt = &t
	}
	if s.Entrypoint == nil {
		s.Entrypoint = []string{}
	}
	return s
}

// matchesStates reports whether s is in one of states (all when none).
func matchesStates(s sandboxInfo, states []string) bool {
	if len(states) == 0 {
		return true
	}
	for _, st := range states {
		if strings.EqualFold(st, s.Status.State) {
			return true
		}
	}
	return false
}

// matchesMetadata reports whether s carries every pair of want.
func matchesMetadata(s sandboxInfo, want map[string]string) bool {
	for k, v := range want {
		if got, ok := s.Metadata[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// page cuts items to the 1-based page of size, and describes it.
func page[T any](items []T, pageNo, size int) ([]T, pagination) {
	total := len(items)
	pages := (total + size - 1) / size
	p := pagination{Page: pageNo, PageSize: size, TotalItems: total, TotalPages: pages, HasNextPage: pageNo < pages}
	from := (pageNo - 1) * size
	if from >= total {
		return []T{}, p
	}
	return items[from:min(from+size, total)], p
}

var quantityRe = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$`)

// parseCPU reads a Kubernetes CPU quantity ("500m", "1", "2.5") as cores.
func parseCPU(q string) (float64, error) {
	m := quantityRe.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil || (m[2] != "" && m[2] != "m") {
		return 0, fmt.Errorf("resourceLimits.cpu %q is not a CPU quantity like 500m or 2", q)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	if m[2] == "m" {
		n /= 1000
	}
	if n <= 0 {
		return 0, fmt.Errorf("resourceLimits.cpu %q must be above zero", q)
	}
	return n, nil
}

var memoryUnits = map[string]float64{
	"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
}

// parseMemory reads a Kubernetes memory quantity ("512Mi", "1G", bytes)
// as Warder's memory_limit, in bytes ("536870912b"); Warder checks its
// bounds.
func parseMemory(q string) (string, error) {
	m := quantityRe.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return "", fmt.Errorf("resourceLimits.memory %q is not a memory quantity like 512Mi or 2Gi", q)
	}
	unit, ok := memoryUnits[m[2]]
	if !ok {
		return "", fmt.Errorf("resourceLimits.memory %q has an unknown unit %q (use Ki, Mi, Gi, Ti, k, M, G or T)", q, m[2])
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	b := n * unit
	if b < 1 || math.IsInf(b, 0) || b > 1<<50 {
		return "", fmt.Errorf("resourceLimits.memory %q is out of range", q)
	}
	return strconv.FormatInt(int64(b), 10) + "b", nil
}

// egressOf maps a network policy onto Warder's egress setting. Warder's
// egress is an allow-list (docs/egress.md), so a policy that denies by
// default and allows some destinations maps exactly, "allow" with no
// rule is "all", and deny rules under an allowing default cannot be
// enforced: that is a 400, not a silent widening.
func egressOf(p *networkPolicy) (wire.Egress, error) {
	if p == nil {
		return nil, nil
	}
	def := strings.ToLower(p.DefaultAction)
	switch def {
	case "", "allow":
		for _, r := range p.Egress {
			if strings.EqualFold(r.Action, "deny") {
				return nil, fmt.Errorf("Warder's egress is an allow-list: a deny rule (%q) under defaultAction allow cannot be enforced; use defaultAction deny with allow rules", r.Target)
			}
		}
		return wire.Egress{wire.EgressAll}, nil
	case "deny":
	default:
		return nil, fmt.Errorf("networkPolicy.defaultAction %q is neither allow nor deny", p.DefaultAction)
	}
	var list wire.Egress
	for _, r := range p.Egress {
		switch strings.ToLower(r.Action) {
		case "deny":
			continue // denied already
		case "allow":
		default:
			return nil, fmt.Errorf("networkPolicy rule action %q is neither allow nor deny", r.Action)
		}
		if r.Target == "" {
			return nil, fmt.Errorf("a rule of ports alone (%v) is not supported: Warder's egress list names destinations (a domain, an IP or a CIDR, with ports)", r.Ports)
		}
		if len(r.Ports) == 0 {
			list = append(list, r.Target)
			continue
		}
		for _, port := range r.Ports {
			if port < 1 || port > 65535 {
				return nil, fmt.Errorf("port %d of rule %q is not between 1 and 65535", port, r.Target)
			}
			list = append(list, net.JoinHostPort(r.Target, strconv.Itoa(port)))
		}
	}
	if len(list) == 0 {
		return wire.Egress{wire.EgressNone}, nil
	}
	return list, nil
}

// policyOf shows Warder's egress setting as a network policy; network is
// the agent's network, which decides when egress is unset.
func policyOf(e wire.Egress, network string) networkPolicy {
	switch {
	case len(e) == 1 && e[0] == wire.EgressAll:
		return networkPolicy{DefaultAction: "allow"}
	case len(e) == 1 && e[0] == wire.EgressNone:
		return networkPolicy{DefaultAction: "deny"}
	case len(e) == 0:
		if network == wire.NetworkInternal {
			return networkPolicy{DefaultAction: "deny"}
		}
		return networkPolicy{DefaultAction: "allow"}
	}
	byTarget := map[string][]int{}
	var order []string
	for _, entry := range e {
		target, ports := entry, []int(nil)
		if h, p, err := net.SplitHostPort(entry); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				target, ports = h, []int{n}
			}
		}
		if _, seen := byTarget[target]; !seen {
			order = append(order, target)
		}
		byTarget[target] = append(byTarget[target], ports...)
	}
	p := networkPolicy{DefaultAction: "deny"}
	for _, t := range order {
		ports := byTarget[t]
		sort.Ints(ports)
		p.Egress = append(p.Egress, networkRule{Action: "allow", Target: t, Ports: ports})
	}
	return p
}

// mergeRules applies a PATCH of rules to p: a rule replaces the one of
// the same target in place, a new target is added, and within the patch
// the first rule for a target wins.
func mergeRules(p networkPolicy, rules []networkRule) networkPolicy {
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.Target] {
			continue
		}
		seen[r.Target] = true
		replaced := false
		for i := range p.Egress {
			if p.Egress[i].Target == r.Target {
				p.Egress[i], replaced = r, true
			}
		}
		if !replaced {
			p.Egress = append(p.Egress, r)
		}
	}
	return p
}

// dropRules removes from p the rules whose target is in targets.
func dropRules(p networkPolicy, targets []string) networkPolicy {
	gone := map[string]bool{}
	for _, t := range targets {
		gone[t] = true
	}
	kept := p.Egress[:0:0]
	for _, r := range p.Egress {
		if !gone[r.Target] {
			kept = append(kept, r)
		}
	}
	p.Egress = kept
	return p
}
