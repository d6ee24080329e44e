package egress

import (
	"fmt"
	"net/netip"
	"strings"
)

// Reason is why the proxy refused a connection; a small fixed set, fit
// for a metric label.
type Reason string

// The reasons of refusal.
const (
	ReasonUnauthenticated Reason = "unauthenticated" // no or wrong proxy credentials
	ReasonNotListed       Reason = "not_listed"      // host or port not in the agent's list
	ReasonAddress         Reason = "address"         // the name resolves to addresses the list does not allow
	ReasonSNI             Reason = "sni_mismatch"    // the TLS server name is not the CONNECT host
	ReasonLimit           Reason = "limit"           // the agent's connections are at their cap
	ReasonBadRequest      Reason = "bad_request"     // not a proxy request, or a malformed target
	ReasonUnresolvable    Reason = "unresolvable"    // the name does not resolve
)

// Reasons lists every Reason, for zero-valued metric series.
var Reasons = []Reason{ReasonUnauthenticated, ReasonNotListed, ReasonAddress, ReasonSNI, ReasonLimit, ReasonBadRequest, ReasonUnresolvable}

// Refusal is a decision against a destination, with a detail for the
// agent and the log.
type Refusal struct {
	Reason Reason
	Detail string
}

// Error returns the detail.
func (r *Refusal) Error() string { return r.Detail }

func refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// CheckHost is the first half of a decision, before any name is
// resolved: may the agent ask for host (a normalised name or an IP
// literal) on port? Nil means yes, so far; the addresses host resolves
// to are judged by CheckAddr.
func (p Policy) CheckHost(host string, port uint16) *Refusal {
	addr, err := netip.ParseAddr(host)
	literal := err == nil
	for _, r := range p.rules {
		if r.Port != 0 && r.Port != port {
			continue
		}
		switch {
		case r.Host == wildcardHost:
			return nil
		case literal && r.Host == "" && r.Prefix.Contains(addr.Unmap()):
			return nil
		case !literal && r.Host != "" && nameMatches(r.Host, host):
			return nil
		}
	}
	if p.IsNone() {
		return refuse(ReasonNotListed, "this agent's egress policy is \"none\"")
	}
	return refuse(ReasonNotListed, "%s is not in this agent's egress list", joinHostPort(host, port))
}

// CheckAddr is the second half: may a connection to port, for a host
// CheckHost allowed, go to addr? A public address may; a special one
// (loopback, private, metadata, ...) only when an IP or CIDR rule of the
// policy holds it on that port.
func (p Policy) CheckAddr(addr netip.Addr, port uint16) *Refusal {
	a := addr.Unmap()
	for _, r := range p.rules {
		if r.Host == "" && (r.Port == 0 || r.Port == port) && r.Prefix.Contains(a) {
			return nil
		}
	}
	if kind := Special(a); kind != "" {
		return refuse(ReasonAddress, "%s is a %s address, not in this agent's egress list", a, kind)
	}
	return nil
}

// nameMatches reports whether pattern (a name or "*.suffix") matches the
// normalised name host.
func nameMatches(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return pattern == host
}

// joinHostPort is net.JoinHostPort with a numeric port.
func joinHostPort(host string, port uint16) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + fmt.Sprint(port)
	}
	return host + ":" + fmt.Sprint(port)
}
