package wire

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAgentJSON: every field tagged nullable is null while zero, and what
// MarshalJSON writes reads back as the same agent.
func TestAgentJSON(t *testing.T) {
	var zero map[string]any
	b, err := json.Marshal(Agent{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &zero)
	typ := reflect.TypeOf(Agent{})
	nullable := 0
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("nullable") != "true" {
			continue
		}
		nullable++
		name := f.Tag.Get("json")
		if v, ok := zero[name]; !ok || v != nil {
			t.Errorf("%s of a zero agent is %v, want null", name, v)
		}
	}
	if nullable != 4 {
		t.Errorf("%d nullable fields, want 4", nullable)
	}
	at := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	code := 3
	a := Agent{ID: "a", Name: "n", HostPort: 9001, StatusChangedAt: at, LastUsedAt: at, Health: "healthy", ExitCode: &code,
		Config: map[string]any{"model": "m"}, ContainerConfig: ContainerConfig{Image: "i", EnvVars: map[string]string{"A": "1"}}}
	b, err = json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	var back Agent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, back) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, a)
	}
}

// TestAgentsWire: a list written through AgentsWire is byte for byte the
// list written agent by agent through MarshalJSON.
func TestAgentsWire(t *testing.T) {
	code := 3
	at := time.Date(2026, 11, 30, 1, 2, 3, 4000, time.UTC)
	list := []*Agent{
		{ID: "a", Name: "bare"},
		{ID: "b", Name: "full", HostPort: 9001, ExitCode: &code, StatusChangedAt: at, LastUsedAt: at, Health: "healthy",
			Config: map[string]any{"model": "m", "n": 1.5}, SealedSecrets: "never shown",
			ContainerConfig: ContainerConfig{Image: "i", EnvVars: map[string]string{"A": "1"}, SecretEnv: map[string]string{"S": "x"}, SecretEnvNames: []string{"S"}}},
	}
	want, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(AgentsWire(list))
	if err != nil || string(got) != string(want) {
		t.Fatalf("AgentsWire =\n%s\nwant\n%s (%v)", got, want, err)
	}
	if empty, _ := json.Marshal(AgentsWire([]*Agent{})); string(empty) != "[]" {
		t.Fatalf("no agents = %s", empty)
	}
}

// TestContainerConfigCloneOwnsEverything: Clone shares no map or slice
// with its original, for every such field, including any added later.
func TestContainerConfigCloneOwnsEverything(t *testing.T) {
	c := ContainerConfig{EnvVars: map[string]string{"A": "1"}, SecretEnv: map[string]string{"S": "x"}, SecretEnvNames: []string{"S"}, Egress: Egress{"a.example"}}
	d := c.Clone()
	cv, dv := reflect.ValueOf(c), reflect.ValueOf(d)
	for i := range cv.NumField() {
		f := cv.Type().Field(i)
		switch f.Type.Kind() {
		case reflect.Map, reflect.Slice, reflect.Pointer:
			if cv.Field(i).IsNil() {
				t.Fatalf("set %s in this test", f.Name)
			}
			if cv.Field(i).UnsafePointer() == dv.Field(i).UnsafePointer() {
				t.Errorf("Clone shares %s", f.Name)
			}
		}
	}
	if !reflect.DeepEqual(c, d) {
		t.Errorf("clone differs: %+v", d)
	}
}
