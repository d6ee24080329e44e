package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
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
	last       func() liveEvent
	wantReason bool
}

// watchLive drains s until it ends, remembering its last event.
func watchLive(name string, s *liveStream) openStream {
	ended := make(chan struct{})
	var last liveEvent
	go func() {
		defer close(ended)
		for {
			select {
			case ev, ok := <-s.events:
				if !ok {
					return
				}
				last = ev
			case _, ok := <-s.lines:
				if !ok {
					return
				}
			}
		}
	}()
	sse := s.resp.Header.Get("Content-Type") == "text/event-stream"
	return openStream{name: name, ended: ended, last: func() liveEvent { <-ended; return last }, wantReason: sse}
}

// watchBody reads resp's body to its end (or a broken connection).
func watchBody(name string, resp *http.Response) openStream {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		io.Copy(io.Discard, resp.Body)
	}()
	return openStream{name: name, ended: ended, last: func() liveEvent { return liveEvent{} }}
}

// openEveryStream opens, as c, every kind of stream Warder serves on a
// running agent: events, logs followed as SSE and as text, stats, a
// streamed chat and a streamed answer through the proxy (both held open
// by the fake model's "gated" answer).
func openEveryStream(t *testing.T, c *client, agentID string) []openStream {
	t.Helper()
	base := "/api/agents/" + agentID
	streams := []openStream{
		watchLive("events", c.open("/api/events", true)),
		watchLive("logs (SSE)", c.open(base+"/logs?follow=true&lines=0", true)),
		watchLive("logs (text)", c.open(base+"/logs?follow=true&lines=0", false)),
		watchLive("stats", c.open(base+"/stats?stream=true", true)),
	}
	for _, s := range []struct{ name, path string }{{"chat", base + "/chat"}, {"proxy", base + "/proxy/chat"}} {
		resp := c.stream("POST", s.path, `{"content": "gated", "stream": true}`)
		if first := events(t, resp).next(); first.Data["content"] != "first " {
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
		json.Unmarshal([]byte(ev.data), &end)
		if ev.name != "end" || !strings.Contains(end["reason"], "revoked") {
			t.Errorf("after %s, the %s stream ended with %q %s; want an end event saying why", what, s.name, ev.name, ev.data)
		}
	}
	t.Logf("after %s every stream ended within %s", what, time.Since(since).Round(time.Millisecond))
}

// login signs c's user in again, returning a client with the new token.
func (c *client) login(name string) *client {
	c.t.Helper()
	fresh := &client{t: c.t, base: c.base, userID: c.userID}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	fresh.mustDo("POST", "/api/auth/login", map[string]string{"username": name, "password": "password-" + name}, 200, &tok)
	fresh.token = tok.AccessToken
	return fresh
}

// newKey makes an API key as c and returns a client using it, and the key.
func (c *client) newKey(body map[string]any) (*client, keyJSON) {
	c.t.Helper()
	var k keyJSON
	c.mustDo("POST", "/api/auth/keys", body, 201, &k)
	return &client{t: c.t, base: c.base, token: k.Key, userID: c.userID}, k
}

// keyJSON is a created key as the API shows it, secret included.
type keyJSON struct {
	warder.APIKey
	Key string `json:"key"`
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
	a := alice.createLLMAgent("watched", llm, map[string]string{"LLM_TIMEOUT": "5m"})
	alice.mustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.mustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	waitHealthy(t, *a.HostPort)

	t.Run("Logout", func(t *testing.T) {
		c := alice.login("alice")
		c.t = t
		streams := openEveryStream(t, c, a.ID)
		at := time.Now()
		c.mustDo("POST", "/api/auth/logout", nil, 200, nil)
		wantAllEnded(t, "logout", at, streams)
	})
	t.Run("KeyRevoked", func(t *testing.T) {
		owner := alice.login("alice")
		owner.t = t
		withKey, k := owner.newKey(map[string]any{"name": "watcher"})
		streams := openEveryStream(t, withKey, a.ID)
		at := time.Now()
		owner.mustDo("DELETE", "/api/auth/keys/"+k.ID, nil, 200, nil)
		wantAllEnded(t, "revoking the key", at, streams)
	})
	t.Run("LogoutWithKey", func(t *testing.T) {
		owner := alice.login("alice")
		owner.t = t
		withKey, _ := owner.newKey(map[string]any{"name": "leaving"})
		streams := []openStream{watchLive("events", withKey.open("/api/events", true))}
		at := time.Now()
		withKey.mustDo("POST", "/api/auth/logout", nil, 200, nil)
		wantAllEnded(t, "logging out with the key", at, streams)
	})
	t.Run("UserDisabled", func(t *testing.T) {
		c := alice.login("alice")
		c.t = t
		withKey, _ := c.newKey(map[string]any{"name": "disabled"})
		streams := append(openEveryStream(t, c, a.ID), watchLive("events (key)", withKey.open("/api/events", true)))
		for i := range streams {
			// Disabling also stops the agent, which may end its logs and
			// stats first, for that reason; events end for the credential.
			streams[i].wantReason = strings.HasPrefix(streams[i].name, "events")
		}
		admin.t = t
		at := time.Now() // the call also stops the agent, which takes a while
		admin.mustDo("POST", "/api/admin/users/"+alice.userID+"/disable", nil, 200, nil)
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
	onB := &client{t: t, base: sb.URL, token: alice.token, userID: alice.userID}
	withKey, k := alice.newKey(map[string]any{"name": "elsewhere"})
	keyOnB := &client{t: t, base: sb.URL, token: withKey.token, userID: alice.userID}

	streams := []openStream{watchLive("events", onB.open("/api/events", true))}
	at := time.Now()
	alice.mustDo("POST", "/api/auth/logout", nil, 200, nil)
	wantAllEnded(t, "logout on the other process", at, streams)

	owner := alice.login("alice")
	streams = []openStream{watchLive("events (key)", keyOnB.open("/api/events", true))}
	at = time.Now()
	owner.mustDo("DELETE", "/api/auth/keys/"+k.ID, nil, 200, nil)
	wantAllEnded(t, "revoking the key on the other process", at, streams)
}

// tryStream GETs path as c and returns the status and, for a refusal, the
// body; a stream that opens is closed at once.
func (c *client) tryStream(path string) (int, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, nil
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestStreamCap: a user holds at most 32 streams at once; the next is a
// 429 that says why, other users are unaffected, and a closed stream
// frees its slot.
func TestStreamCap(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	var open []*liveStream
	for range 32 {
		open = append(open, alice.open("/api/events", true))
	}
	status, raw := alice.tryStream("/api/events")
	if status != http.StatusTooManyRequests || !strings.Contains(detailOf(t, raw), "at most 32") {
		t.Fatalf("alice's 33rd stream = %d %s", status, raw)
	}
	if status, raw := bob.tryStream("/api/events"); status != 200 {
		t.Fatalf("bob's first stream = %d %s", status, raw)
	}
	open[0].close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, raw = alice.tryStream("/api/events")
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

	withParent, parent := alice.newKey(map[string]any{"name": "parent", "expires_in_days": 1})
	withChild, child := withParent.newKey(map[string]any{"name": "child"})
	withGrandchild, grandchild := withChild.newKey(map[string]any{"name": "grandchild", "expires_in_days": 3650})
	for _, k := range []keyJSON{child, grandchild} {
		if k.ExpiresAt == nil || k.ExpiresAt.After(*parent.ExpiresAt) {
			t.Fatalf("%s expires %v, after its maker's %v", k.Name, k.ExpiresAt, parent.ExpiresAt)
		}
	}
	if child.ParentID != parent.ID || grandchild.ParentID != child.ID {
		t.Fatalf("parents: child %q, grandchild %q", child.ParentID, grandchild.ParentID)
	}
	alice.mustDo("DELETE", "/api/auth/keys/"+parent.ID, nil, 200, nil)
	for name, c := range map[string]*client{"parent": withParent, "child": withChild, "grandchild": withGrandchild} {
		if status, raw := c.do("GET", "/api/agents", nil); status != http.StatusUnauthorized {
			t.Errorf("the %s key after revoking the parent: %d %s", name, status, raw)
		}
	}
	var left []warder.APIKey
	alice.mustDo("GET", "/api/auth/keys", nil, 200, &left)
	if len(left) != 0 {
		t.Fatalf("keys left after revoking the root of the tree: %+v", left)
	}

	// Made with a login token, a key outlives the token.
	session := alice.login("alice")
	withKey, _ := session.newKey(map[string]any{"name": "automation"})
	withKeyChild, _ := withKey.newKey(map[string]any{"name": "automation-child"})
	session.mustDo("POST", "/api/auth/logout", nil, 200, nil)
	session.mustDo("GET", "/api/agents", nil, 401, nil)
	withKey.mustDo("GET", "/api/agents", nil, 200, nil)

	// Logging out with a key revokes it, and what it made.
	withKey.mustDo("POST", "/api/auth/logout", nil, 200, nil)
	withKey.mustDo("GET", "/api/agents", nil, 401, nil)
	withKeyChild.mustDo("GET", "/api/agents", nil, 401, nil)

	readOnly, _ := alice.newKey(map[string]any{"name": "viewer", "read_only": true})
	if status, raw := readOnly.do("POST", "/api/auth/keys", map[string]any{"name": "escalate"}); status != http.StatusForbidden {
		t.Fatalf("a read-only key making a key = %d %s", status, raw)
	}
}

// TestRegistrationClosed: with WARDER_REGISTRATION=closed the first user
// of an empty database still registers (and is the admin); everyone else
// is refused with a 403 that says admins create users, which they do
// with POST /api/admin/users.
func TestRegistrationClosed(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.Registration = "closed" })
	admin := ts.register(t, "root")
	var me warder.User
	admin.mustDo("GET", "/api/auth/me", nil, 200, &me)
	if me.Role != warder.RoleAdmin {
		t.Fatalf("the first user on a closed server is %q", me.Role)
	}
	anon := &client{t: t, base: ts.URL}
	status, raw := anon.do("POST", "/api/auth/register", map[string]string{"username": "alice", "email": "alice@example.com", "password": "password-alice"})
	if status != http.StatusForbidden || !strings.Contains(detailOf(t, raw), "registration is closed") || !strings.Contains(detailOf(t, raw), "admin") {
		t.Fatalf("registering on a closed server = %d %s", status, raw)
	}
	var alice warder.User
	admin.mustDo("POST", "/api/admin/users", map[string]string{"username": "alice", "email": "alice@example.com", "password": "password-alice"}, 201, &alice)
	if alice.Role != warder.RoleUser || alice.Username != "alice" {
		t.Fatalf("created user = %+v", alice)
	}
	c := admin.login("alice")
	c.mustDo("POST", "/api/admin/users", map[string]string{"username": "eve", "email": "eve@example.com", "password": "password-eve"}, 403, nil)
	status, raw = admin.do("POST", "/api/admin/users", map[string]string{"username": "ALICE", "email": "other@example.com", "password": "password-x"})
	if status != http.StatusConflict || !strings.Contains(detailOf(t, raw), "already taken") {
		t.Fatalf("creating a taken name = %d %s", status, raw)
	}
	t.Setenv("WARDER_REGISTRATION", "maybe")
	if _, err := loadConfig(nil); err == nil || !strings.Contains(err.Error(), "WARDER_REGISTRATION") {
		t.Fatalf("WARDER_REGISTRATION=maybe: %v", err)
	}
	t.Setenv("WARDER_REGISTRATION", "closed")
	if cfg, err := loadConfig([]string{"-registration", "open"}); err != nil || cfg.Registration != "open" {
		t.Fatalf("-registration open over WARDER_REGISTRATION=closed: %q %v", cfg.Registration, err)
	}
}

// TestRegistrationAbuse: a taken name is refused without the cost of a
// password hash; a flood of registrations from one address is throttled
// with 429 and Retry-After, quickly, and creates nothing.
func TestRegistrationAbuse(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	anon := &client{t: t, base: ts.URL}
	register := func(name, email string) (int, []byte, time.Duration) {
		start := time.Now()
		status, raw := anon.do("POST", "/api/auth/register", map[string]string{"username": name, "email": email, "password": "password-long"})
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
		if status != http.StatusConflict || detailOf(t, raw) != `username "root" is already taken` {
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
	parallel(100, func(i int) {
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
	if status, raw, _ := register("latecomer", "latecomer@example.com"); status != http.StatusTooManyRequests || !strings.Contains(detailOf(t, raw), "too many registrations") {
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
