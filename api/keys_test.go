package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestAPIKeys: a key is shown once, works as a bearer token, can be
// read-only, and stops working when revoked.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	c := ts.register(t, "root")
	a := c.CreateAgent("automated")
	var rw, ro struct {
		warder.APIKey
		Key string `json:"key"`
	}
	c.MustDo("POST", "/api/auth/keys", map[string]any{"name": "deploy"}, 201, &rw)
	c.MustDo("POST", "/api/auth/keys", map[string]any{"name": "dashboard", "read_only": true, "expires_in_days": 30}, 201, &ro)
	if !strings.HasPrefix(rw.Key, "wdk_") || rw.Prefix != rw.Key[:12] || ro.ExpiresAt == nil {
		t.Fatalf("created keys: %+v / %+v", rw, ro)
	}
	_, raw := c.Do("GET", "/api/auth/keys", nil)
	if strings.Contains(string(raw), rw.Key) || strings.Contains(string(raw), ro.Key) || !strings.Contains(string(raw), "dashboard") {
		t.Fatalf("key list shows secrets or lacks keys: %s", raw)
	}

	withRW := &apitest.Client{T: t, Base: ts.URL, Token: rw.Key}
	withRO := &apitest.Client{T: t, Base: ts.URL, Token: ro.Key}
	withRW.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	withRO.MustDo("GET", "/api/agents/"+a.ID, nil, 200, nil)
	withRO.MustDo("GET", "/api/agents/"+a.ID+"/logs", nil, 200, nil)
	for _, e := range []struct{ method, path string }{
		{"POST", "/api/agents/" + a.ID + "/stop"}, {"POST", "/api/agents/" + a.ID + "/start"},
		{"DELETE", "/api/agents/" + a.ID}, {"POST", "/api/agents"}, {"POST", "/api/auth/keys"},
	} {
		status, raw := withRO.Do(e.method, e.path, `{"name": "x"}`)
		if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "read-only") {
			t.Errorf("read-only key %s %s = %d %s", e.method, e.path, status, raw)
		}
	}
	c.MustDo("DELETE", "/api/auth/keys/"+rw.ID, nil, 200, nil)
	if status, _ := withRW.Do("GET", "/api/agents", nil); status != 401 {
		t.Fatalf("a revoked key still works: %d", status)
	}
	other := ts.register(t, "mallory")
	other.MustDo("DELETE", "/api/auth/keys/"+ro.ID, nil, 404, nil)
	withRO.MustDo("GET", "/api/agents", nil, 200, nil)
}

// TestKeyLineage: a key made with a key expires no later than it, records
// it, and is revoked with it, however deep; a key made with a login token
// survives logging out; logging out with a key revokes it; a read-only
// key makes no key, but may log out.
func TestKeyLineage(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	alice := ts.register(t, "alice")

	withParent, parent := alice.NewKey(map[string]any{"name": "parent", "expires_in_days": 1})
	withChild, child := withParent.NewKey(map[string]any{"name": "child"})
	withGrandchild, grandchild := withChild.NewKey(map[string]any{"name": "grandchild", "expires_in_days": 3650})
	for _, k := range []apitest.Key{child, grandchild} {
		if k.ExpiresAt == nil || k.ExpiresAt.After(*parent.ExpiresAt) {
			t.Fatalf("%s expires %v, after its maker's %v", k.Name, k.ExpiresAt, parent.ExpiresAt)
		}
	}
	if child.ParentID != parent.ID || grandchild.ParentID != child.ID {
		t.Fatalf("parents: child %q, grandchild %q", child.ParentID, grandchild.ParentID)
	}
	alice.MustDo("DELETE", "/api/auth/keys/"+parent.ID, nil, 200, nil)
	for name, c := range map[string]*apitest.Client{"parent": withParent, "child": withChild, "grandchild": withGrandchild} {
		if status, raw := c.Do("GET", "/api/agents", nil); status != http.StatusUnauthorized {
			t.Errorf("the %s key after revoking the parent: %d %s", name, status, raw)
		}
	}
	var left []warder.APIKey
	alice.MustDo("GET", "/api/auth/keys", nil, 200, &left)
	if len(left) != 0 {
		t.Fatalf("keys left after revoking the root of the tree: %+v", left)
	}

	// Made with a login token, a key outlives the token.
	session := alice.Login("alice")
	withKey, _ := session.NewKey(map[string]any{"name": "automation"})
	withKeyChild, _ := withKey.NewKey(map[string]any{"name": "automation-child"})
	session.MustDo("POST", "/api/auth/logout", nil, 200, nil)
	session.MustDo("GET", "/api/agents", nil, 401, nil)
	withKey.MustDo("GET", "/api/agents", nil, 200, nil)

	// Logging out with a key revokes it, and what it made.
	withKey.MustDo("POST", "/api/auth/logout", nil, 200, nil)
	withKey.MustDo("GET", "/api/agents", nil, 401, nil)
	withKeyChild.MustDo("GET", "/api/agents", nil, 401, nil)

	readOnly, _ := alice.NewKey(map[string]any{"name": "viewer", "read_only": true})
	if status, raw := readOnly.Do("POST", "/api/auth/keys", map[string]any{"name": "escalate"}); status != http.StatusForbidden {
		t.Fatalf("a read-only key making a key = %d %s", status, raw)
	}
	// It may log out, though: it revokes itself.
	readOnly.MustDo("POST", "/api/auth/logout", nil, 200, nil)
	readOnly.MustDo("GET", "/api/agents", nil, 401, nil)
}
