// Package egress decides and enforces where an agent may connect: a
// policy language (per-agent lists of allowed destinations, bounded by
// an operator's ceiling) and a forward proxy (HTTP and CONNECT) that
// identifies the agent by the credentials in its proxy URL, resolves
// names itself, dials only the address it checked, and refuses private
// addresses unless the agent's list names them. See docs/egress.md.
package egress

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	"github.com/warder/warder"
)

// Limits of a policy: what a user may write is bounded like any input.
const (
	maxRules     = 256
	maxEntryLen  = 300
	maxNameLen   = 253
	maxLabelLen  = 63
	wildcardHost = "*"
)

// Policy is the set of destinations one agent may reach. The zero Policy
// allows nothing ("none"). It is immutable once parsed and safe for
// concurrent use.
type Policy struct {
	rules []Rule
}

// Rule is one entry of a policy: a host (exact name, "*.suffix", or "*"
// for any), or an address prefix (an IP is a /32 or /128), and a port (0
// for any).
type Rule struct {
	// Host is the lower-case name, "*.suffix" or "*"; empty for an
	// address rule.
	Host string
	// Prefix is the address rule's prefix; invalid for a host rule.
	Prefix netip.Prefix
	// Port is the one port allowed, or 0 for any.
	Port uint16
}

// None allows nothing; All allows any name and any public address, on any
// port (the same as the list ["*"]).
var (
	None = Policy{}
	All  = Policy{rules: []Rule{{Host: wildcardHost}}}
)

// Parse reads a policy: the single word "none" or "all", or a list of
// destinations (see docs/egress.md). An empty list is "none". Every
// error wraps warder.ErrInvalid and names the entry at fault.
func Parse(entries []string) (Policy, error) {
	if len(entries) > maxRules {
		return Policy{}, warder.Errorf(warder.ErrInvalid, "egress: at most %d entries, got %d", maxRules, len(entries))
	}
	if len(entries) == 1 {
		switch strings.ToLower(entries[0]) {
		case "none":
			return None, nil
		case "all":
			return All, nil
		}
	}
	p := Policy{rules: make([]Rule, 0, len(entries))}
	seen := map[Rule]bool{}
	for _, e := range entries {
		r, err := ParseRule(e)
		if err != nil {
			return Policy{}, err
		}
		if !seen[r] {
			seen[r] = true
			p.rules = append(p.rules, r)
		}
	}
	return p, nil
}

// MustParse is Parse for literals in code and tests; it panics on error.
func MustParse(entries ...string) Policy {
	p, err := Parse(entries)
	if err != nil {
		panic(err)
	}
	return p
}

// Rules returns a copy of the policy's rules.
func (p Policy) Rules() []Rule { return append([]Rule(nil), p.rules...) }

// IsNone reports whether the policy allows nothing.
func (p Policy) IsNone() bool { return len(p.rules) == 0 }

// IsAll reports whether the policy is exactly "all".
func (p Policy) IsAll() bool { return len(p.rules) == 1 && p.rules[0] == All.rules[0] }

// Entries is the policy in the form Parse reads: ["none"], ["all"], or
// one string per rule.
func (p Policy) Entries() []string {
	switch {
	case p.IsNone():
		return []string{"none"}
	case p.IsAll():
		return []string{"all"}
	}
	out := make([]string, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.String()
	}
	return out
}

// String is the policy's entries joined by commas.
func (p Policy) String() string { return strings.Join(p.Entries(), ",") }

// MarshalJSON writes "none", "all" or the list of entries.
func (p Policy) MarshalJSON() ([]byte, error) {
	if p.IsNone() || p.IsAll() {
		return json.Marshal(p.Entries()[0])
	}
	return json.Marshal(p.Entries())
}

// UnmarshalJSON reads "none", "all", or a list of entries.
func (p *Policy) UnmarshalJSON(b []byte) error {
	var word string
	if err := json.Unmarshal(b, &word); err == nil {
		if w := strings.ToLower(word); w != "none" && w != "all" {
			return warder.Errorf(warder.ErrInvalid, `egress: a single word must be "none" or "all", or give a list; got %q`, word)
		}
		q, err := Parse([]string{word})
		*p = q
		return err
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return warder.Errorf(warder.ErrInvalid, `egress: want "none", "all" or a list of destinations`)
	}
	q, err := Parse(list)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// String is the rule in the form ParseRule reads.
func (r Rule) String() string {
	var s string
	switch {
	case r.Host != "":
		s = r.Host
	case r.Prefix.IsSingleIP():
		s = r.Prefix.Addr().String()
	default:
		s = r.Prefix.String()
	}
	if r.Port == 0 {
		return s
	}
	if r.Host == "" && r.Prefix.Addr().Is6() {
		return "[" + s + "]:" + strconv.Itoa(int(r.Port))
	}
	return s + ":" + strconv.Itoa(int(r.Port))
}
