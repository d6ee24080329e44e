package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warder/warder/internal/testkit/apitest"
)

// TestNamesRefuseInvisibleCharacters: a name others see (an agent's, an
// API key's, a new user's email or first name) with a bidi control
// (U+202E makes "helper\u202egpj.exe" read "helperexe.jpg") or a
// zero-width space (U+200B makes a second "helper" that looks like the
// first) is a 400 naming the character, on create, rename and replace;
// nothing is stored.
func TestNamesRefuseInvisibleCharacters(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	c := ts.register(t, "alice")
	a := c.CreateAgent("helper")
	agent := "/api/agents/" + a.ID

	for _, bad := range []struct{ name, char string }{
		{"helper\u202egpj.exe", "U+202E"},
		{"hel\u200bper", "U+200B"},
	} {
		for _, tt := range []struct {
			method, path string
			body         map[string]any
		}{
			{"POST", "/api/agents", map[string]any{"name": bad.name}},
			{"PATCH", agent, map[string]any{"name": bad.name}},
			{"PUT", agent, map[string]any{"name": bad.name}},
			{"POST", "/api/auth/keys", map[string]any{"name": bad.name}},
			{"POST", "/api/auth/register", map[string]any{"username": "bob", "email": "bob@example.com", "password": "correct horse", "first_name": bad.name}},
		} {
			t.Run(fmt.Sprintf("%s %s %s", tt.method, tt.path, bad.char), func(t *testing.T) {
				status, raw := c.Do(tt.method, tt.path, tt.body)
				if status != 400 {
					t.Fatalf("status %d %s, want 400", status, raw)
				}
				if d := apitest.DetailOf(t, raw); !strings.Contains(d, bad.char) || !strings.Contains(d, "character") {
					t.Fatalf("detail %q does not name the character %s", d, bad.char)
				}
			})
		}
	}
	status, raw := c.Do("POST", "/api/auth/register", map[string]any{"username": "carol", "email": "car\u202eol@example.com", "password": "correct horse"})
	if status != 400 || !strings.Contains(apitest.DetailOf(t, raw), "U+202E") {
		t.Fatalf("an email with U+202E: %d %s, want 400 naming it", status, raw)
	}

	var list []apitest.Agent
	c.MustDo("GET", "/api/agents", nil, 200, &list)
	if len(list) != 1 || list[0].Name != "helper" {
		t.Fatalf("agents after the refusals: %+v", list)
	}
	var keys []map[string]any
	c.MustDo("GET", "/api/auth/keys", nil, 200, &keys)
	if len(keys) != 0 {
		t.Fatalf("keys after the refusals: %+v", keys)
	}
	// Letters of any script are names like any other.
	c.CreateAgent("مساعد")
}
