package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/warder/warder"
)

func TestResolve(t *testing.T) {
	list := []*warder.Agent{
		{ID: "0a1b2c3d-0000-4000-8000-000000000001", Name: "helper"},
		{ID: "0a1b9999-0000-4000-8000-000000000002", Name: "other"},
		{ID: "ffff0000-0000-4000-8000-000000000003", Name: "0a1b2c3d"}, // a name that looks like an id
	}
	for _, c := range []struct {
		ref, want, err string
	}{
		{"0a1b2c3d-0000-4000-8000-000000000001", "helper", ""},
		{"helper", "helper", ""},
		{"0a1b9", "other", ""},
		{"0a1b2c3d", "0a1b2c3d", ""}, // a name wins over an id prefix
		{"0a1b", "", "start of 2 agents' ids"},
		{"nosuch", "", `no agent "nosuch"`},
	} {
		a, err := resolve(list, c.ref)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want %q", c.ref, err, c.err)
		case c.err == "" && (err != nil || a.Name != c.want):
			t.Errorf("%s: %v %v, want %s", c.ref, a, err, c.want)
		}
	}
}

func TestParseFlagsAnywhere(t *testing.T) {
	c := &CLI{}
	c.defaults()
	fs := c.flags("x", "x")
	follow := fs.Bool("f", false, "")
	tail := fs.String("tail", "", "")
	pos, err := parse(fs, []string{"helper", "-f", "--tail", "5", "more"})
	if err != nil || !*follow || *tail != "5" || !reflect.DeepEqual(pos, []string{"helper", "more"}) {
		t.Fatalf("%q %v %v %q", pos, err, *follow, *tail)
	}
	var ue usageError
	if _, err := parse(c.flags("x", "x"), []string{"--nope"}); !errors.As(err, &ue) {
		t.Fatalf("an unknown flag: %v", err)
	}
}
