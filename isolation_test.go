package warder

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseIsolationPolicy(t *testing.T) {
	for _, tc := range []struct {
		def, allowed string
		want         []Isolation
		err          string
	}{
		{"", "", []Isolation{IsolationRunc, IsolationGVisor}, ""},
		{"runc", "runc", []Isolation{IsolationRunc}, ""},
		{"gvisor", "", []Isolation{IsolationGVisor}, ""},
		{"gvisor", "runc, gvisor", []Isolation{IsolationGVisor, IsolationRunc}, ""},
		{"", "gvisor", nil, "leaves out the default level runc"},
		{"kata", "", nil, "WARDER_AGENT_ISOLATION"},
		{"", "runc,vm", nil, "WARDER_AGENT_ISOLATION_ALLOWED"},
	} {
		got, err := ParseIsolationPolicy(tc.def, tc.allowed)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseIsolationPolicy(%q, %q) = %v, %v; want an error with %q", tc.def, tc.allowed, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseIsolationPolicy(%q, %q) = %v, %v; want %v", tc.def, tc.allowed, got, err, tc.want)
		}
	}
}

func TestResolveIsolation(t *testing.T) {
	both := []Isolation{IsolationRunc, IsolationGVisor}
	for _, tc := range []struct {
		want    string
		offered []Isolation
		got     Isolation
		err     string
	}{
		{"", nil, IsolationRunc, ""},
		{"", []Isolation{IsolationGVisor}, IsolationGVisor, ""},
		{"gvisor", both, IsolationGVisor, ""},
		{"runc", both, IsolationRunc, ""},
		{"gvisor", nil, "", `"gvisor" is not available here; available: runc`},
		{"runc", []Isolation{IsolationGVisor}, "", "available: gvisor"},
		{"firecracker", both, "", "available here: runc, gvisor"},
	} {
		got, err := ResolveIsolation(tc.want, tc.offered)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveIsolation(%q, %v) = %v, %v; want an error with %q", tc.want, tc.offered, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.got {
			t.Errorf("ResolveIsolation(%q, %v) = %v, %v; want %v", tc.want, tc.offered, got, err, tc.got)
		}
	}
}

// TestIsolationInConfig: container_config.isolation is checked for being
// a level at all (what the runtime offers is the service's check) and
// reaches the WorkloadSpec; empty stays empty, the deployment's default.
func TestIsolationInConfig(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err bool
	}{{"", false}, {"runc", false}, {"gvisor", false}, {"kata", true}, {"GVISOR", true}} {
		c := ContainerConfig{Isolation: tc.in}
		err := NormalizeConfig(&c, "warder/agent:latest")
		if tc.err != (err != nil) || (err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "container_config.isolation"))) {
			t.Errorf("NormalizeConfig(isolation %q) = %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		a := &Agent{ID: "a1", UserID: "u1", Name: "n", ContainerConfig: c}
		spec, err := SpecFor(a, SpecSettings{Network: "net"})
		if err != nil || spec.Isolation != Isolation(tc.in) {
			t.Errorf("SpecFor(isolation %q) = %q, %v", tc.in, spec.Isolation, err)
		}
	}
}

func TestOfferedIsolations(t *testing.T) {
	runc, gv := IsolationRunc, IsolationGVisor
	for _, c := range []struct {
		policy []Isolation
		seen   bool
		want   []Isolation
	}{
		{nil, false, []Isolation{runc}},
		{[]Isolation{runc, gv}, false, []Isolation{runc}},
		{[]Isolation{runc, gv}, true, []Isolation{runc, gv}},
		{[]Isolation{gv}, false, []Isolation{gv}}, // the default stays: Setup fails without it
		{[]Isolation{gv, runc}, false, []Isolation{gv, runc}},
	} {
		if got := OfferedIsolations(c.policy, c.seen); !slices.Equal(got, c.want) {
			t.Errorf("OfferedIsolations(%v, %v) = %v, want %v", c.policy, c.seen, got, c.want)
		}
	}
}
