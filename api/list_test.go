package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// unlimited lifts the agent-count quota, so a test can make many agents.
func unlimited(c *app.Config) {
	zero := 0
	c.Quota.Agents = &zero
}

// walk follows GET path's pages (path has ?limit=) by X-Next-Cursor to
// the end, checking each page's Link against its X-Next-Cursor, and
// returns every agent seen, in order.
func walk(t *testing.T, c *apitest.Client, path string) []apitest.Agent {
	t.Helper()
	var all []apitest.Agent
	next := path
	for range 1000 {
		status, h, raw := c.DoHeader("GET", next, nil)
		if status != 200 {
			t.Fatalf("GET %s = %d %s", next, status, raw)
		}
		var page []apitest.Agent
		decodeJSON(t, raw, &page)
		all = append(all, page...)
		cursor := h.Get("X-Next-Cursor")
		if cursor == "" {
			if h.Get("Link") != "" {
				t.Fatalf("last page %s has a Link %q", next, h.Get("Link"))
			}
			return all
		}
		u, _ := url.Parse(next)
		q := u.Query()
		q.Set("cursor", cursor)
		next = u.Path + "?" + q.Encode()
		if want := "<" + next + `>; rel="next"`; h.Get("Link") != want {
			t.Fatalf("Link = %q, want %q", h.Get("Link"), want)
		}
	}
	t.Fatalf("GET %s: no last page after 1000", path)
	return nil
}

// mustJSON decodes raw into v or fails the test.
func decodeJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
}

func ids(list []apitest.Agent) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.ID
	}
	return out
}

// TestListAgentsPages: pages walked by cursor give every agent once, in
// the listing order, while other agents are being created; without
// ?limit= the answer is the whole list with no paging headers.
func TestListAgentsPages(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t, unlimited)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	var before []string
	for i := range 30 {
		before = append(before, alice.CreateAgent(fmt.Sprintf("before-%02d", i)).ID)
	}

	status, h, raw := alice.DoHeader("GET", "/api/agents", nil)
	var whole []apitest.Agent
	decodeJSON(t, raw, &whole)
	if status != 200 || !slices.Equal(ids(whole), before) || h.Get("X-Next-Cursor") != "" || h.Get("Link") != "" {
		t.Fatalf("GET /api/agents = %d, %d agents, X-Next-Cursor %q, Link %q", status, len(whole), h.Get("X-Next-Cursor"), h.Get("Link"))
	}
	for _, size := range []int{1, 7, 30, 1000} {
		if got := ids(walk(t, alice, fmt.Sprintf("/api/agents?limit=%d", size))); !slices.Equal(got, before) {
			t.Fatalf("pages of %d: %d agents, want the %d in order", size, len(got), len(before))
		}
	}
	if got := ids(walk(t, alice, "/api/agents/?limit=4")); !slices.Equal(got, before) {
		t.Fatalf("pages of /api/agents/: %d agents, want %d", len(got), len(before))
	}

	// Walk while 40 more are created, 8 at a time: every agent that was
	// there before shows exactly once, none twice, all in order.
	var wg sync.WaitGroup
	wg.Go(func() {
		apitest.Parallel(8, func(w int) {
			for i := range 5 {
				if s, raw := alice.Do("POST", "/api/agents", map[string]any{"name": fmt.Sprintf("during-%d-%d", w, i)}); s != 201 {
					t.Errorf("create during the walk: %d %s", s, raw)
				}
			}
		})
	})
	for range 3 {
		seen := walk(t, alice, "/api/agents?limit=3")
		count := map[string]int{}
		for _, a := range seen {
			count[a.ID]++
			if count[a.ID] > 1 {
				t.Fatalf("agent %s (%s) shows twice", a.ID, a.Name)
			}
		}
		for _, id := range before {
			if count[id] != 1 {
				t.Fatalf("agent %s shows %d times in a walk during creates", id, count[id])
			}
		}
		if !slices.IsSortedFunc(seen, func(a, b apitest.Agent) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		}) {
			t.Fatal("a walk is not in (created_at, id) order")
		}
	}
	wg.Wait()
	if got := walk(t, alice, "/api/agents?limit=9"); len(got) != 70 {
		t.Fatalf("after the creates: %d agents, want 70", len(got))
	}
}

// TestListAgentsFilters: status (one, several, repeated), name (exact)
// and name_prefix, alone, together and with pages; an admin lists
// everyone's, or one user's with user_id, with the same parameters.
func TestListAgentsFilters(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t, unlimited)
	root := ts.register(t, "root")
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	web1 := alice.CreateAgent("web-1")
	alice.CreateAgent("web-2")
	alice.CreateAgent("Web-3")
	db := alice.CreateAgent("db")
	bobWeb := bob.CreateAgent("web-1")
	for _, a := range []apitest.Agent{web1, db} {
		alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		alice.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))
	}
	bob.MustDo("POST", "/api/agents/"+bobWeb.ID+"/start", nil, 200, nil)
	bob.WaitStatus(bobWeb.ID, statusWithin, apitest.Is(warder.StatusRunning))

	names := func(c *apitest.Client, query string) []string {
		t.Helper()
		var out []string
		for _, a := range walk(t, c, "/api/agents?"+query) {
			owner := map[string]string{alice.UserID: "alice", bob.UserID: "bob"}[a.UserID]
			out = append(out, owner+"/"+a.Name)
		}
		return out
	}
	for _, c := range []struct {
		who   *apitest.Client
		query string
		want  []string
	}{
		{alice, "status=running", []string{"alice/web-1", "alice/db"}},
		{alice, "status=created", []string{"alice/web-2", "alice/Web-3"}},
		{alice, "status=created,running", []string{"alice/web-1", "alice/web-2", "alice/Web-3", "alice/db"}},
		{alice, "status=created&status=running&limit=1", []string{"alice/web-1", "alice/web-2", "alice/Web-3", "alice/db"}},
		{alice, "status=stopped", nil},
		{alice, "name=web-1", []string{"alice/web-1"}},
		{alice, "name=web", nil},
		{alice, "name_prefix=web", []string{"alice/web-1", "alice/web-2"}},
		{alice, "name_prefix=web&status=created", []string{"alice/web-2"}},
		{alice, "name_prefix=w&limit=1", []string{"alice/web-1", "alice/web-2"}},
		{alice, "user_id=" + alice.UserID, []string{"alice/web-1", "alice/web-2", "alice/Web-3", "alice/db"}},
		{alice, "status=&name=&name_prefix=&cursor=", []string{"alice/web-1", "alice/web-2", "alice/Web-3", "alice/db"}},
		{bob, "limit=5", []string{"bob/web-1"}},
		{root, "limit=2", []string{"alice/web-1", "alice/web-2", "alice/Web-3", "alice/db", "bob/web-1"}},
		{root, "name=web-1&limit=1", []string{"alice/web-1", "bob/web-1"}},
		{root, "status=running&limit=2", []string{"alice/web-1", "alice/db", "bob/web-1"}},
		{root, "user_id=" + bob.UserID, []string{"bob/web-1"}},
		{root, "user_id=" + alice.UserID + "&status=running&limit=1", []string{"alice/web-1", "alice/db"}},
	} {
		if got := names(c.who, c.query); !slices.Equal(got, c.want) {
			t.Errorf("?%s = %q, want %q", c.query, got, c.want)
		}
	}
	// Another user's agents are not a non-admin's to list.
	status, raw := alice.Do("GET", "/api/agents?user_id="+bob.UserID, nil)
	if status != http.StatusForbidden || apitest.DetailOf(t, raw) == "" {
		t.Fatalf("alice lists bob's agents: %d %s", status, raw)
	}
}

// TestListAgentsBadInput: every bad parameter is a 400 with a detail that
// names it, never a 500 and never a silently ignored value.
func TestListAgentsBadInput(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("one")
	other := warder.AgentKey{CreatedAt: a.CreatedAt, ID: a.ID}.Cursor()
	for _, c := range []struct{ query, want string }{
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"limit=1.5", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"cursor=forged", "cursor"},
		{"cursor=" + url.QueryEscape(other+"x"), "cursor"},
		{"cursor=" + strings.Repeat("A", 4000), "cursor"},
		{"status=runing", "status"},
		{"status=running,bogus", "status"},
		{"status=deleted", "status"},
		{"user_id=alice", "user_id"},
		{"name=%FF", "name is not valid UTF-8"},
		{"name=a%00b", "name contains control characters"},
		{"name_prefix=%C3", "name_prefix is not valid UTF-8"},
		{"name=" + strings.Repeat("n", 101), "name is longer than 100 bytes"},
	} {
		for _, path := range []string{"/api/agents?", "/api/agents/?"} {
			status, raw := alice.Do("GET", path+c.query, nil)
			if detail := apitest.DetailOf(t, raw); status != http.StatusBadRequest || !strings.Contains(detail, c.want) || len(detail) > 600 {
				t.Errorf("GET %s%s = %d %s, want 400 naming %s", path, c.query, status, raw, c.want)
			}
		}
	}
	// A well-formed cursor is only a place in the order: one past every
	// agent is an empty last page, not an error.
	status, h, raw := alice.DoHeader("GET", "/api/agents?limit=5&cursor="+other, nil)
	if status != 200 || string(raw) != "[]\n" && string(raw) != "[]" || h.Get("X-Next-Cursor") != "" {
		t.Fatalf("page after the last agent = %d %q, X-Next-Cursor %q", status, raw, h.Get("X-Next-Cursor"))
	}
}
