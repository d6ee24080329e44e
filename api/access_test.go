package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder/internal/testkit/apitest"
)

// agentEndpoints is every endpoint that acts on one agent.
var agentEndpoints = []struct{ method, path, body string }{
	{"GET", "", ""},
	{"PUT", "", `{"name": "stolen"}`},
	{"PATCH", "", `{"name": "stolen"}`},
	{"DELETE", "", ""},
	{"POST", "/start", ""},
	{"POST", "/stop", ""},
	{"POST", "/restart", ""},
	{"GET", "/logs", ""},
	{"GET", "/stats", ""},
	{"POST", "/chat", `{"content": "hi"}`},
	{"GET", "/conversations", ""},
	{"PATCH", "/proxy/anything?x=1", `{"a": 1}`},
}

// TestOwnership: another user's agent does not exist for you, and nothing
// works without a live token.
func TestOwnership(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	admin := ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	a := alice.CreateAgent("alices-agent")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)

	for _, e := range agentEndpoints {
		var body any
		if e.body != "" {
			body = e.body
		}
		status, raw := bob.Do(e.method, "/api/agents/"+a.ID+e.path, body)
		if status != http.StatusNotFound {
			t.Errorf("bob %s %s = %d %s, want 404", e.method, e.path, status, raw)
		} else if d := apitest.DetailOf(t, raw); d != "agent not found" {
			t.Errorf("bob %s %s detail %q", e.method, e.path, d)
		}
	}
	var list []apitest.Agent
	bob.MustDo("GET", "/api/agents", nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("bob lists %d agents", len(list))
	}
	status, raw := bob.Do("POST", "/api/agents", map[string]any{"name": "x", "user_id": alice.UserID})
	if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "user_id") {
		t.Fatalf("bob creating for alice = %d %s", status, raw)
	}
	// Alice's agent is untouched and still running.
	var got apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
	if got.Name != "alices-agent" || got.Status != "running" {
		t.Fatalf("after bob's attempts: %+v", got)
	}

	// The admin sees and may act on everyone's agents, and create for others.
	admin.MustDo("GET", "/api/agents", nil, 200, &list)
	if len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("admin lists %+v", list)
	}
	admin.MustDo("POST", "/api/agents", map[string]any{"name": "for-bob", "user_id": bob.UserID}, 201, nil)
	bob.MustDo("GET", "/api/agents", nil, 200, &list)
	if len(list) != 1 || list[0].Name != "for-bob" {
		t.Fatalf("bob lists %+v after the admin created one for him", list)
	}

	// No token, a bad token, and a logged-out token: 401 everywhere.
	anon := &apitest.Client{T: t, Base: ts.URL}
	forged := &apitest.Client{T: t, Base: ts.URL, Token: "wdr_forged"}
	for _, c := range []*apitest.Client{anon, forged} {
		for _, e := range agentEndpoints {
			if status, raw := c.Do(e.method, "/api/agents/"+a.ID+e.path, nil); status != 401 {
				t.Errorf("token %q %s %s = %d %s", c.Token, e.method, e.path, status, raw)
			}
		}
		for _, p := range []string{"/api/agents", "/api/auth/me"} {
			if status, _ := c.Do("GET", p, nil); status != 401 {
				t.Errorf("token %q GET %s = %d", c.Token, p, status)
			}
		}
	}
	alice.MustDo("POST", "/api/auth/logout", nil, 200, nil)
	if status, _ := alice.Do("GET", "/api/auth/me", nil); status != 401 {
		t.Fatalf("after logout /me = %d", status)
	}
	if status, _ := alice.Do("GET", "/api/agents/"+a.ID, nil); status != 401 {
		t.Fatalf("after logout GET agent = %d", status)
	}
}
