package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestOriginalUserShape: the original Warder's clients register
// testuser-<uuid4> (45 characters) and read created_at, updated_at and
// status on the user; usernames go up to 64 characters.
func TestOriginalUserShape(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	name := "testuser-0f8fad5b-d9cb-469f-a165-70867728950e"
	c := ts.register(t, name)
	var me struct {
		Username  string    `json:"username"`
		CreatedAt time.Time `json:"created_at"`
		UpdatedAt time.Time `json:"updated_at"`
		Status    string    `json:"status"`
	}
	c.MustDo("GET", "/api/users/me", nil, 200, &me)
	if me.Username != name || me.CreatedAt.IsZero() || !me.UpdatedAt.Equal(me.CreatedAt) || me.Status != "active" {
		t.Fatalf("me = %+v", me)
	}
	var u map[string]any
	ts.anon(t).MustDo("POST", "/api/auth/register", map[string]string{"username": strings.Repeat("a", 64), "email": "a64@example.com", "password": "password-x"}, 201, &u)
	if u["status"] != "active" || u["updated_at"] == nil || u["created_at"] == nil {
		t.Fatalf("register answer = %v", u)
	}
	ts.anon(t).MustDo("POST", "/api/auth/register", map[string]string{"username": strings.Repeat("a", 65), "email": "a65@example.com", "password": "password-x"}, 400, nil)
}
