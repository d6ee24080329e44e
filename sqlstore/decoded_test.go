package sqlstore

import (
	"strconv"
	"testing"
)

// TestDecodedCacheCopies: every read of a cached text is a copy of its
// own, nested values included, so a caller's change reaches no other.
func TestDecodedCacheCopies(t *testing.T) {
	var c decodedCache
	raw := []byte(`{"model":"m","tools":["a",{"x":1}],"nested":{"k":"v"}}`)
	first, err := c.config(raw)
	if err != nil {
		t.Fatal(err)
	}
	first["model"] = "changed"
	first["tools"].([]any)[0] = "changed"
	first["nested"].(map[string]any)["k"] = "changed"
	second, _ := c.config(raw)
	if second["model"] != "m" || second["tools"].([]any)[0] != "a" || second["nested"].(map[string]any)["k"] != "v" {
		t.Fatalf("a change to one read reached the next: %v", second)
	}
	if null, err := c.config([]byte(`null`)); err != nil || null != nil {
		t.Fatalf("null = %v, %v", null, err)
	}
	if _, err := c.config([]byte(`{`)); err == nil {
		t.Fatal("bad JSON decoded")
	}

	cc := []byte(`{"image":"i","env_vars":{"A":"1"},"secret_env_names":["S"]}`)
	a, err := c.container(cc)
	if err != nil {
		t.Fatal(err)
	}
	a.EnvVars["A"], a.SecretEnvNames[0] = "changed", "changed"
	b, _ := c.container(cc)
	if b.EnvVars["A"] != "1" || b.SecretEnvNames[0] != "S" || b.Image != "i" {
		t.Fatalf("a change to one container config reached the next: %+v", b)
	}
}

// TestDecodedCacheBounded: a full map starts over rather than grow.
func TestDecodedCacheBounded(t *testing.T) {
	var c decodedCache
	for i := range maxDecoded + 10 {
		if _, err := c.config([]byte(`{"n":` + strconv.Itoa(i) + `}`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.configs) > maxDecoded {
		t.Fatalf("%d entries, bound %d", len(c.configs), maxDecoded)
	}
}
