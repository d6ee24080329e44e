package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestEgressJSON: a word is a string, a list a list, null unset; the
// update's Apply lets the network follow the policy.
func TestEgressJSON(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   Egress
		out    string
		listed bool
	}{
		{`"none"`, Egress{"none"}, `"none"`, false},
		{`"all"`, Egress{"all"}, `"all"`, false},
		{`["a.example", "*.b.example:443"]`, Egress{"a.example", "*.b.example:443"}, `["a.example","*.b.example:443"]`, true},
		{`[]`, Egress{}, `[]`, false},
		{`null`, nil, `null`, false},
	} {
		var e Egress
		if err := json.Unmarshal([]byte(tc.in), &e); err != nil || !reflect.DeepEqual(e, tc.want) {
			t.Errorf("%s: got %#v, %v", tc.in, e, err)
		}
		if b, _ := json.Marshal(e); string(b) != tc.out {
			t.Errorf("%s: marshals as %s", tc.in, b)
		}
		if e.Listed() != tc.listed {
			t.Errorf("%s: Listed = %v", tc.in, e.Listed())
		}
	}
	var e Egress
	if err := json.Unmarshal([]byte(`{"a": 1}`), &e); err == nil {
		t.Error("an object was accepted")
	}
	var c ContainerConfig
	if err := json.Unmarshal([]byte(`{"network": "internal"}`), &c); err != nil || c.Egress != nil {
		t.Errorf("no egress: %#v %v", c.Egress, err)
	}
	if b, _ := json.Marshal(c); string(b) != string(mustJSON(t, c)) || json.Valid(b) && containsKey(b, "egress") {
		t.Errorf("unset egress is shown: %s", b)
	}
	list := Egress{"a.example"}
	u := ContainerConfigUpdate{Egress: &list}
	if got := u.Apply(ContainerConfig{Network: "egress"}); got.Network != "" || !reflect.DeepEqual(got.Egress, list) {
		t.Errorf("egress alone: %+v", got)
	}
	net := "egress"
	u = ContainerConfigUpdate{Network: &net}
	if got := u.Apply(ContainerConfig{Network: "internal", Egress: list}); got.Network != "egress" || got.Egress != nil {
		t.Errorf("network alone: %+v", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func containsKey(b []byte, key string) bool {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	_, ok := m[key]
	return ok
}
