package warder

import "strings"

// Isolation is how hard the wall is between an agent's code and the host
// (and so every other agent): container_config.isolation, within the
// levels the operator allows and the runtime can give (see
// docs/security.md, "Isolation levels").
type Isolation string

// The isolation levels, weakest first.
const (
	// IsolationRunc is an ordinary container: the agent's processes are
	// the host kernel's, walled by namespaces, cgroups, dropped
	// capabilities and seccomp. The default.
	IsolationRunc Isolation = "runc"
	// IsolationGVisor runs the agent in gVisor's sandbox: its system
	// calls are served by gVisor's own kernel (the Sentry), a user-space
	// process that itself reaches the host kernel only through a narrow
	// filter, so a bug in the host kernel is out of the agent's reach.
	IsolationGVisor Isolation = "gvisor"
)

// isolationLevels lists every level, weakest first.
func isolationLevels() []Isolation { return []Isolation{IsolationRunc, IsolationGVisor} }

// ParseIsolation checks that s names a level.
func ParseIsolation(s string) (Isolation, error) {
	for _, l := range isolationLevels() {
		if Isolation(s) == l {
			return l, nil
		}
	}
	return "", Errorf(ErrInvalid, "isolation %q is not one of %s", s, joinIsolations(isolationLevels()))
}

// ParseIsolationPolicy reads the operator's policy: def is the level an
// agent gets when it asks for none (WARDER_AGENT_ISOLATION; "" is runc),
// allowed the levels an agent may ask for, comma-separated
// (WARDER_AGENT_ISOLATION_ALLOWED; "" is def and every stronger level,
// so a deployment whose default is gvisor lets no agent ask for less).
// The result lists the allowed levels, def first: a runtime config's
// Isolations.
func ParseIsolationPolicy(def, allowed string) ([]Isolation, error) {
	d := IsolationRunc
	if def != "" {
		var err error
		if d, err = ParseIsolation(def); err != nil {
			return nil, Errorf(ErrInvalid, "WARDER_AGENT_ISOLATION: %v", err)
		}
	}
	out := []Isolation{d}
	if strings.TrimSpace(allowed) == "" {
		stronger := false
		for _, l := range isolationLevels() {
			if stronger {
				out = append(out, l)
			}
			stronger = stronger || l == d
		}
		return out, nil
	}
	hasDefault := false
	for _, s := range strings.Split(allowed, ",") {
		l, err := ParseIsolation(strings.TrimSpace(s))
		if err != nil {
			return nil, Errorf(ErrInvalid, "WARDER_AGENT_ISOLATION_ALLOWED: %v", err)
		}
		if l == d {
			hasDefault = true
		} else if !containsIsolation(out, l) {
			out = append(out, l)
		}
	}
	if !hasDefault {
		return nil, Errorf(ErrInvalid, "WARDER_AGENT_ISOLATION_ALLOWED %q leaves out the default level %s", allowed, d)
	}
	return out, nil
}

// ResolveIsolation is the level of an agent that asks for want on a
// runtime offering offered (its Info().Isolations: the default first;
// none means runc only): the default for "", want when offered, and
// otherwise ErrInvalid naming what is available.
func ResolveIsolation(want string, offered []Isolation) (Isolation, error) {
	if len(offered) == 0 {
		offered = []Isolation{IsolationRunc}
	}
	if want == "" {
		return offered[0], nil
	}
	l, err := ParseIsolation(want)
	if err != nil {
		return "", Errorf(ErrInvalid, "container_config.isolation %q is not a level; available here: %s", want, joinIsolations(offered))
	}
	if !containsIsolation(offered, l) {
		return "", Errorf(ErrInvalid, "container_config.isolation %q is not available here; available: %s", want, joinIsolations(offered))
	}
	return l, nil
}

func containsIsolation(ls []Isolation, l Isolation) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func joinIsolations(ls []Isolation) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

// OfferedIsolations is what a runtime offers agents of the operator's
// policy (its default first; runc alone when there is none), given
// whether the backend was seen to have gVisor: gvisor goes while it was
// not, unless it is the default, which stays whatever is known (the
// runtime's Setup fails while the backend cannot give it).
func OfferedIsolations(policy []Isolation, gvisorSeen bool) []Isolation {
	if len(policy) == 0 {
		policy = []Isolation{IsolationRunc}
	}
	out := make([]Isolation, 0, len(policy))
	for i, l := range policy {
		if l == IsolationGVisor && i != 0 && !gvisorSeen {
			continue
		}
		out = append(out, l)
	}
	return out
}
