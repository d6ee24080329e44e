package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/apitest"
	"github.com/warder/warder/internal/app"
)

// revokedWithin is how soon after its credential dies a stream must end:
// the server re-checks every 2 s, plus a lookup and the client's read.
const revokedWithin = 5 * time.Second

// openStream is one of a client's open streams, as the revocation tests
// watch it: ended is closed when its body ends; last returns the final
// event of an SSE stream. With wantReason, that event must be an "end"
// saying the credential was revoked.
type openStream struct {
	name       string
	ended      <-chan struct{}
	last       func() apitest.Event
	wantReason bool
}

// watchLive drains s until it ends, remembering its last event.
func watchLive(name string, s *apitest.LiveStream) openStream {
	ended := make(chan struct{})
	var last apitest.Event
	go func() {
		defer close(ended)
		for {
			select {
			case ev, ok := <-s.Events:
				if !ok {
					return
				}
				last = ev
			case _, ok := <-s.Lines:
				if !ok {
					return
				}
			}
		}
	}()
	sse := s.Resp.Header.Get("Content-Type") == "text/event-stream"
	return openStream{name: name, ended: ended, last: func() apitest.Event { <-ended; return last }, wantReason: sse}
}

// watchBody reads resp's body to its end (or a broken connection).
func watchBody(name string, resp *http.Response) openStream {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		io.Copy(io.Discard, resp.Body)
	}()
	return openStream{name: name, ended: ended, last: func() apitest.Event { return apitest.Event{} }}
}

// openEveryStream opens, as c, every kind of stream Warder serves on a
// running agent: events, logs followed as SSE and as text, stats, a
// streamed chat and a streamed answer through the proxy (both held open
// by the fake model's "gated" answer).
func openEveryStream(t *testing.T, c *apitest.Client, agentID string) []openStream {
	t.Helper()
	base := "/api/agents/" + agentID
	streams := []openStream{
		watchLive("events", c.Open("/api/events", true)),
		watchLive("logs (SSE)", c.Open(base+"/logs?follow=true&lines=0", true)),
		watchLive("logs (text)", c.Open(base+"/logs?follow=true&lines=0", false)),
		watchLive("stats", c.Open(base+"/stats?stream=true", true)),
	}
	for _, s := range []struct{ name, path string }{{"chat", base + "/chat"}, {"proxy", base + "/proxy/chat"}} {
		resp := c.Stream("POST", s.path, `{"content": "gated", "stream": true}`)
		if first := apitest.Events(t, resp).Next(); first.Data["content"] != "first " {
			t.Fatalf("%s: first event %+v", s.name, first)
		}
		streams = append(streams, watchBody(s.name, resp))
	}
	for _, s := range streams {
		select {
		case <-s.ended:
			t.Fatalf("%s ended before the credential did", s.name)
		default:
		}
	}
	return streams
}

// wantAllEnded fails unless every stream ends within revokedWithin of
// since; the SSE streams of live data must say why in their end event.
func wantAllEnded(t *testing.T, what string, since time.Time, streams []openStream) {
	t.Helper()
	for _, s := range streams {
		select {
		case <-s.ended:
		case <-time.After(time.Until(since.Add(revokedWithin))):
			t.Fatalf("after %s, the %s stream was still open %s later", what, s.name, revokedWithin)
		}
		if !s.wantReason {
			continue
		}
		ev := s.last()
		var end map[string]string
		json.Unmarshal([]byte(ev.Data), &end)
		if ev.Name != "end" || !strings.Contains(end["reason"], "revoked") {
			t.Errorf("after %s, the %s stream ended with %q %s; want an end event saying why", what, s.name, ev.Name, ev.Data)
		}
	}
	t.Logf("after %s every stream ended within %s", what, time.Since(since).Round(time.Millisecond))
}

// TestRevocationEndsStreams: logging out, revoking an API key and an
// admin disabling the user each end every stream opened with the dead
// credential within seconds: events, logs, stats, chat and the proxy.
func TestRevocationEndsStreams(t *testing.T) {
	ts := newTestServer(t, nil)
	llm := newFakeLLM(t, ts)
	admin := ts.register(t, "root")
	alice := ts.register(t, "alice")
	// The model stays silent as long as the test needs: only revocation
	// may end the gated answers.
	a := createLLMAgent(alice, "watched", llm, map[string]string{"LLM_TIMEOUT": "5m"})
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	waitHealthy(t, *a.HostPort)

	t.Run("Logout", func(t *testing.T) {
		c := alice.Login("alice")
		c.T = t
		streams := openEveryStream(t, c, a.ID)
		at := time.Now()
		c.MustDo("POST", "/api/auth/logout", nil, 200, nil)
		wantAllEnded(t, "logout", at, streams)
	})
	t.Run("KeyRevoked", func(t *testing.T) {
		owner := alice.Login("alice")
		owner.T = t
		withKey, k := owner.NewKey(map[string]any{"name": "watcher"})
		streams := openEveryStream(t, withKey, a.ID)
		at := time.Now()
		owner.MustDo("DELETE", "/api/auth/keys/"+k.ID, nil, 200, nil)
		wantAllEnded(t, "revoking the key", at, streams)
	})
	t.Run("LogoutWithKey", func(t *testing.T) {
		owner := alice.Login("alice")
		owner.T = t
		withKey, _ := owner.NewKey(map[string]any{"name": "leaving"})
		streams := []openStream{watchLive("events", withKey.Open("/api/events", true))}
		at := time.Now()
		withKey.MustDo("POST", "/api/auth/logout", nil, 200, nil)
		wantAllEnded(t, "logging out with the key", at, streams)
	})
	t.Run("UserDisabled", func(t *testing.T) {
		c := alice.Login("alice")
		c.T = t
		withKey, _ := c.NewKey(map[string]any{"name": "disabled"})
		streams := append(openEveryStream(t, c, a.ID), watchLive("events (key)", withKey.Open("/api/events", true)))
		for i := range streams {
			// Disabling also stops the agent, which may end its logs and
			// stats first, for that reason; events end for the credential.
			streams[i].wantReason = strings.HasPrefix(streams[i].name, "events")
		}
		admin.T = t
		at := time.Now() // the call also stops the agent, which takes a while
		admin.MustDo("POST", "/api/admin/users/"+alice.UserID+"/disable", nil, 200, nil)
		wantAllEnded(t, "disabling the user", at, streams)
	})
}

// TestRevocationAcrossProcesses: a stream served by one Warder process
// ends when its credential is revoked through another sharing the
// PostgreSQL database.
func TestRevocationAcrossProcesses(t *testing.T) {
	sa, sb := twoServers(t)
	sa.register(t, "root")
	alice := sa.register(t, "alice")
	onB := &apitest.Client{T: t, Base: sb.URL, Token: alice.Token, UserID: alice.UserID}
	withKey, k := alice.NewKey(map[string]any{"name": "elsewhere"})
	keyOnB := &apitest.Client{T: t, Base: sb.URL, Token: withKey.Token, UserID: alice.UserID}

	streams := []openStream{watchLive("events", onB.Open("/api/events", true))}
	at := time.Now()
	alice.MustDo("POST", "/api/auth/logout", nil, 200, nil)
	wantAllEnded(t, "logout on the other process", at, streams)

	owner := alice.Login("alice")
	streams = []openStream{watchLive("events (key)", keyOnB.Open("/api/events", true))}
	at = time.Now()
	owner.MustDo("DELETE", "/api/auth/keys/"+k.ID, nil, 200, nil)
	wantAllEnded(t, "revoking the key on the other process", at, streams)
}

// TestStreamCap: a user holds at most 32 streams at once; the next is a
// 429 that says why, other users are unaffected, and a closed stream
// frees its slot.
func TestStreamCap(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	var open []*apitest.LiveStream
	for range 32 {
		open = append(open, alice.Open("/api/events", true))
	}
	status, raw := alice.TryStream("/api/events")
	if status != http.StatusTooManyRequests || !strings.Contains(apitest.DetailOf(t, raw), "at most 32") {
		t.Fatalf("alice's 33rd stream = %d %s", status, raw)
	}
	if status, raw := bob.TryStream("/api/events"); status != 200 {
		t.Fatalf("bob's first stream = %d %s", status, raw)
	}
	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, raw = alice.TryStream("/api/events")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's slot was not freed: %d %s", status, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKeyLineage: a key made with a key expires no later than it, records
// it, and is revoked with it, however deep; a key made with a login token
// survives logging out; logging out with a key revokes it; a read-only
// key makes no key.
func TestKeyLineage(t *testing.T) {
	ts := newTestServer(t, nil)
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
}

// TestRegistrationClosed: with WARDER_REGISTRATION=closed the first user
// of an empty database still registers (and is the admin); everyone else
// is refused with a 403 that says admins create users, which they do
// with POST /api/admin/users.
func TestRegistrationClosed(t *testing.T) {
	ts := newTestServer(t, func(c *app.Config) { c.Registration = "closed" })
	admin := ts.register(t, "root")
	var me warder.User
	admin.MustDo("GET", "/api/auth/me", nil, 200, &me)
	if me.Role != warder.RoleAdmin {
		t.Fatalf("the first user on a closed server is %q", me.Role)
	}
	anon := &apitest.Client{T: t, Base: ts.URL}
	status, raw := anon.Do("POST", "/api/auth/register", map[string]string{"username": "alice", "email": "alice@example.com", "password": "password-alice"})
	if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "registration is closed") || !strings.Contains(apitest.DetailOf(t, raw), "admin") {
		t.Fatalf("registering on a closed server = %d %s", status, raw)
	}
	var alice warder.User
	admin.MustDo("POST", "/api/admin/users", map[string]string{"username": "alice", "email": "alice@example.com", "password": "password-alice"}, 201, &alice)
	if alice.Role != warder.RoleUser || alice.Username != "alice" {
		t.Fatalf("created user = %+v", alice)
	}
	c := admin.Login("alice")
	c.MustDo("POST", "/api/admin/users", map[string]string{"username": "eve", "email": "eve@example.com", "password": "password-eve"}, 403, nil)
	status, raw = admin.Do("POST", "/api/admin/users", map[string]string{"username": "ALICE", "email": "other@example.com", "password": "password-x"})
	if status != http.StatusConflict || !strings.Contains(apitest.DetailOf(t, raw), "already taken") {
		t.Fatalf("creating a taken name = %d %s", status, raw)
	}
}

// TestRegistrationAbuse: a taken name is refused without the cost of a
// password hash; a flood of registrations from one address is throttled
// with 429 and Retry-After, quickly, and creates nothing.
func TestRegistrationAbuse(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	anon := &apitest.Client{T: t, Base: ts.URL}
	register := func(name, email string) (int, []byte, time.Duration) {
		start := time.Now()
		status, raw := anon.Do("POST", "/api/auth/register", map[string]string{"username": name, "email": email, "password": "password-long"})
		return status, raw, time.Since(start)
	}
	// Alternate fresh and taken names so load on the machine hits both.
	var fresh, taken []time.Duration
	for i := range 5 {
		status, raw, d := register(fmt.Sprintf("fresh%d", i), fmt.Sprintf("fresh%d@example.com", i))
		if status != 201 {
			t.Fatalf("fresh registration = %d %s", status, raw)
		}
		fresh = append(fresh, d)
		status, raw, d = register("root", fmt.Sprintf("probe%d@example.com", i))
		if status != http.StatusConflict || apitest.DetailOf(t, raw) != `username "root" is already taken` {
			t.Fatalf("taken name = %d %s", status, raw)
		}
		taken = append(taken, d)
	}
	if median(taken) > median(fresh)/4 {
		t.Fatalf("a taken name takes %s (median), a fresh one %s: the password is hashed before the name is checked", median(taken), median(fresh))
	}
	t.Logf("registration: fresh %s, taken %s (medians)", median(fresh), median(taken))

	// 100 at once from one address: the allowance (20, 11 of it spent
	// above) then 429s; nothing is created, and it is over quickly.
	statuses := make([]int, 100)
	retry := make([]string, 100)
	start := time.Now()
	apitest.Parallel(100, func(i int) {
		req, _ := http.NewRequest("POST", ts.URL+"/api/auth/register",
			strings.NewReader(fmt.Sprintf(`{"username": "root", "email": "flood%d@example.com", "password": "password-long"}`, i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		statuses[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
	})
	elapsed := time.Since(start)
	limited := 0
	for i, s := range statuses {
		switch {
		case s == http.StatusTooManyRequests && retry[i] != "":
			limited++
		case s != http.StatusConflict:
			t.Fatalf("flood request %d = %d", i, s)
		}
	}
	if limited < 80 {
		t.Fatalf("%d of 100 flood registrations throttled; want all past the allowance", limited)
	}
	t.Logf("100 concurrent registrations of a taken name: %d throttled, over in %s", limited, elapsed.Round(time.Millisecond))
	if status, raw, _ := register("latecomer", "latecomer@example.com"); status != http.StatusTooManyRequests || !strings.Contains(apitest.DetailOf(t, raw), "too many registrations") {
		t.Fatalf("a fresh name from the throttled address = %d %s", status, raw)
	}
}

// median is the middle of ds.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
