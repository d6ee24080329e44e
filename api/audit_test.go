package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// TestAuditLog: calls that change something are recorded with who, what,
// which agent and the result; only admins read them, with filters.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	root := ts.register(t, "root")
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("audited")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("PATCH", "/api/agents/"+a.ID, map[string]any{"container_config": map[string]any{"memory_limit": "64m"}}, 409, nil)
	alice.MustDo("GET", "/api/audit", nil, 403, nil)

	type entries struct{ Entries []warder.AuditEntry }
	var got entries
	root.MustDo("GET", "/api/audit?user=alice&agent="+a.ID, nil, 200, &got)
	if len(got.Entries) != 3 {
		t.Fatalf("alice's entries on the agent: %+v", got.Entries)
	}
	patch, start, create := got.Entries[0], got.Entries[1], got.Entries[2] // newest first
	if start.Action != "POST /api/agents/{id}/start" || start.UserID != alice.UserID || start.Username != "alice" ||
		start.AgentID != a.ID || start.Status != 200 || start.Result != "ok" || start.RequestID == "" || time.Since(start.At) > time.Minute {
		t.Fatalf("start entry = %+v", start)
	}
	if create.Action != "POST /api/agents" || create.AgentID != a.ID || create.Status != 201 {
		t.Fatalf("create entry = %+v", create)
	}
	if patch.Status != 409 || !strings.Contains(patch.Result, "stop the agent") {
		t.Fatalf("refused patch entry = %+v", patch)
	}
	root.MustDo("GET", "/api/audit?user="+alice.UserID+"&since="+url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339)), nil, 200, &got)
	if len(got.Entries) != 0 {
		t.Fatalf("entries from the future: %+v", got.Entries)
	}
	root.MustDo("GET", "/api/audit?user=alice&until="+url.QueryEscape(start.At.Format(time.RFC3339Nano))+"&limit=10", nil, 200, &got)
	for _, e := range got.Entries {
		if !e.At.Before(start.At) {
			t.Fatalf("until let %+v through", e)
		}
	}
	root.MustDo("GET", "/api/audit", nil, 200, &got)
	actions := map[string]bool{}
	for _, e := range got.Entries {
		actions[e.Username+" "+e.Action] = true
	}
	for _, want := range []string{"root POST /api/auth/register", "alice POST /api/auth/login"} {
		if !actions[want] {
			t.Errorf("audit log lacks %q: %v", want, actions)
		}
	}
	if actions["alice GET /api/audit"] {
		t.Error("a read was audited")
	}
}
