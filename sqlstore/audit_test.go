package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testAudit(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	base := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	add := func(min int, user, agent, action string, status int) *warder.AuditEntry {
		t.Helper()
		e := &warder.AuditEntry{At: base.Add(time.Duration(min) * time.Minute), UserID: user, Username: "name-" + user,
			Action: action, AgentID: agent, Status: status, Result: "ok", RequestID: "req"}
		wantNoErr(t, db.RecordAudit(ctx, e))
		if e.ID == 0 {
			t.Fatal("RecordAudit left the id unset")
		}
		return e
	}
	add(0, "u1", "a1", "POST /api/agents/{id}/start", 200)
	add(1, "u2", "a2", "POST /api/agents/{id}/stop", 409)
	add(2, "u1", "a2", "DELETE /api/agents/{id}", 200)
	last := add(3, "u1", "", "POST /api/auth/logout", 200)

	ids := func(f warder.AuditFilter) []string {
		t.Helper()
		list, err := db.AuditEntries(ctx, f)
		wantNoErr(t, err)
		var out []string
		for _, e := range list {
			out = append(out, e.Action)
		}
		return out
	}
	tests := []struct {
		name string
		f    warder.AuditFilter
		want int
	}{
		{"all", warder.AuditFilter{}, 4},
		{"by user", warder.AuditFilter{UserID: "u1"}, 3},
		{"by agent", warder.AuditFilter{AgentID: "a2"}, 2},
		{"user and agent", warder.AuditFilter{UserID: "u1", AgentID: "a2"}, 1},
		{"since is inclusive", warder.AuditFilter{Since: base.Add(time.Minute)}, 3},
		{"until is exclusive", warder.AuditFilter{Until: base.Add(time.Minute)}, 1},
		{"window", warder.AuditFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, 2},
		{"limit", warder.AuditFilter{Limit: 2}, 2},
		{"nobody", warder.AuditFilter{UserID: "u9"}, 0},
	}
	for _, tt := range tests {
		if got := ids(tt.f); len(got) != tt.want {
			t.Errorf("%s: %d entries %v, want %d", tt.name, len(got), got, tt.want)
		}
	}
	list, err := db.AuditEntries(ctx, warder.AuditFilter{Limit: 1})
	wantNoErr(t, err)
	got := list[0]
	if got.ID != last.ID || !got.At.Equal(last.At) || got.Username != "name-u1" || got.Action != "POST /api/auth/logout" ||
		got.Status != 200 || got.Result != "ok" || got.RequestID != "req" || got.At.Location() != time.UTC {
		t.Fatalf("newest entry = %+v, want %+v", got, last)
	}
	// An entry stamps itself when At is zero.
	e := &warder.AuditEntry{UserID: "u3", Action: "x", Status: 200}
	wantNoErr(t, db.RecordAudit(ctx, e))
	if time.Since(e.At) > time.Minute {
		t.Fatalf("At = %v, want about now", e.At)
	}
}

// testStrayBytes: text PostgreSQL cannot keep (a NUL, bytes that are not
// UTF-8) never makes an unclassified error. An audit entry keeps what it
// can of it and is recorded; a lookup by such a value is ErrInvalid
// where the database refuses it, and simply finds nothing where it
// takes it (SQLite).
func testStrayBytes(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	e := &warder.AuditEntry{At: time.Now(), UserID: "u1", Username: "name", Action: "exec [\"x\xff\"]",
		AgentID: "a1", Status: 200, Result: "o\x00k", RequestID: "r\xfe"}
	wantNoErr(t, db.RecordAudit(ctx, e))
	got, err := db.AuditEntries(ctx, warder.AuditFilter{})
	wantNoErr(t, err)
	if len(got) != 1 || got[0].Action != "exec [\"x\uFFFD\"]" || got[0].Result != "ok" || got[0].RequestID != "r\uFFFD" {
		t.Fatalf("audit entry with stray bytes: %+v", got)
	}
	for _, login := range []string{"a\x00b", "a\xffb"} {
		_, err := db.UserByLogin(ctx, login)
		if !errors.Is(err, warder.ErrNotFound) && !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("UserByLogin(%q) = %v, want not found or invalid", login, err)
		}
	}
}
