package egress

import (
	"strings"

	"github.com/warder/warder"
)

// Within reports, as an error wrapping warder.ErrForbidden that names the
// first entry at fault, whether every destination p allows is one that
// ceiling allows too. It judges rule by rule, which is exact for the
// language: a name rule needs a ceiling rule matching every name it
// matches, on every port it allows; an address rule needs a ceiling
// prefix holding it, or "*" when it holds only public addresses (which
// "*" reaches anyway).
func (p Policy) Within(ceiling Policy) error {
	for _, r := range p.rules {
		if !ceiling.covers(r) {
			return warder.Errorf(warder.ErrForbidden, "egress entry %q is outside what the operator allows (%s)", r.String(), ceiling.String())
		}
	}
	return nil
}

// covers reports whether some rule of p allows everything r does.
func (p Policy) covers(r Rule) bool {
	for _, c := range p.rules {
		if ruleCovers(c, r) {
			return true
		}
	}
	return false
}

func ruleCovers(c, r Rule) bool {
	if c.Port != 0 && c.Port != r.Port {
		return false
	}
	switch {
	case c.Host == wildcardHost:
		return r.Host != "" || !overlapsSpecial(r.Prefix)
	case strings.HasPrefix(c.Host, "*."):
		return r.Host == c.Host || r.Host != "" && r.Host != wildcardHost && nameMatches(c.Host, strings.TrimPrefix(r.Host, "*"))
	case c.Host != "":
		return r.Host == c.Host
	default:
		return r.Host == "" && r.Prefix.Addr().Is4() == c.Prefix.Addr().Is4() &&
			r.Prefix.Bits() >= c.Prefix.Bits() && c.Prefix.Contains(r.Prefix.Addr())
	}
}

// Operator is the deployment's say over egress policies.
type Operator struct {
	// Default is the policy of an agent that sets none.
	Default Policy
	// Ceiling bounds every agent's policy: what it does not allow, no
	// agent may.
	Ceiling Policy
}

// Validate checks that the default is within the ceiling.
func (o Operator) Validate() error {
	if err := o.Default.Within(o.Ceiling); err != nil {
		return warder.Errorf(warder.ErrInvalid, "the default egress policy is not within the ceiling: %s", warder.ErrorMessage(err))
	}
	return nil
}

// Effective is the policy an agent gets: its own (nil when it set none)
// checked against the ceiling, else the default.
func (o Operator) Effective(own *Policy) (Policy, error) {
	if own == nil {
		return o.Default, nil
	}
	if err := own.Within(o.Ceiling); err != nil {
		return Policy{}, err
	}
	return *own, nil
}
