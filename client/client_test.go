package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestClientFlow drives every route of the API through the client, as
// a program using Warder would, and checks what comes back.
func TestClientFlow(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	admin, _ := mustSignIn(t, s, "root")
	alice, aliceUser := mustSignIn(t, s, "alice")

	if err := s.New("").Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	if err := s.New("").Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	me := try(alice.Me(ctx)).must(t)
	if me.Username != "alice" || me.ID != aliceUser.ID || me.Role != wire.RoleUser {
		t.Fatalf("me: %+v", me)
	}
	form := try(s.New("").LoginForm(ctx, "alice@example.com", "correct horse")).must(t)
	if form.TokenType != "bearer" || form.AccessToken == "" || form.ExpiresIn <= 0 {
		t.Fatalf("form login: %+v", form)
	}

	// Keys: made, listed, used, revoked.
	key := try(alice.CreateKey(ctx, wire.APIKeyCreate{Name: "ci", ReadOnly: true})).must(t)
	if !strings.HasPrefix(key.Key, "wdk_") || key.APIKey == nil || key.Name != "ci" {
		t.Fatalf("key: %+v", key)
	}
	if keys := try(alice.Keys(ctx)).must(t); len(keys) != 1 || keys[0].ID != key.ID {
		t.Fatalf("keys: %+v", keys)
	}
	ro := s.New(key.Key)
	if _, err := ro.CreateAgent(ctx, wire.AgentCreate{Name: "nope"}); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("read-only key creates an agent: %v", err)
	}

	// Agents: create, list, get, PUT keeps what it is not sent, PATCH.
	a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "helper", Config: map[string]any{"model": "m"},
		ContainerConfig: wire.ContainerConfig{MemoryLimit: "64m", EnvVars: map[string]string{"A": "1"}}})).must(t)
	if a.ID == "" || a.Status != wire.StatusCreated || a.HostPort != 0 {
		t.Fatalf("created: %+v", a)
	}
	if list := try(alice.Agents(ctx)).must(t); len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("agents: %+v", list)
	}
	desc, mem := "edited", "128m"
	put := try(alice.ReplaceAgent(ctx, a.ID, wire.AgentReplace{AgentUpdate: wire.AgentUpdate{Description: &desc,
		ContainerConfig: &wire.ContainerConfigUpdate{MemoryLimit: &mem}}})).must(t)
	if put.Description != "edited" || put.Name != "helper" || put.Config["model"] != "m" ||
		put.ContainerConfig.MemoryLimit != "128m" || put.ContainerConfig.EnvVars["A"] != "1" {
		t.Fatalf("PUT wiped what it was not sent: %+v", put)
	}
	name := "helper2"
	a = try(alice.UpdateAgent(ctx, a.ID, wire.AgentUpdate{Name: &name})).must(t)
	if a.Name != "helper2" || a.Description != "edited" {
		t.Fatalf("PATCH: %+v", a)
	}

	// Lifecycle, with the events stream watching.
	changes := make(chan wire.StatusChange, 16)
	evctx, stopEvents := context.WithCancel(ctx)
	eventsDone := make(chan error, 1)
	go func() {
		_, err := alice.Events(evctx, func(c wire.StatusChange) error { changes <- c; return nil })
		eventsDone <- err
	}()
	s.waitSubscribed(t, 1)
	if started := try(alice.StartAgent(ctx, a.ID)).must(t); started.ID != a.ID || started.Status != wire.StatusRunning || started.HostPort == 0 {
		t.Fatalf("start returned %+v, want the running agent", started)
	}
	var first wire.StatusChange
	select {
	case first = <-changes:
		if first.AgentID != a.ID || first.ID == 0 {
			t.Fatalf("event: %+v", first)
		}
	case <-time.After(30 * time.Second): // a deadline, not a timing: a loaded machine is slow
		t.Fatal("no status event after a start")
	}
	stopEvents()
	if err := <-eventsDone; err != nil {
		t.Fatalf("events stream ended by its caller: %v, want no error", err)
	}
	// Reconnecting after the first change gets the next one first.
	errEnough := errors.New("enough")
	var next wire.StatusChange
	if _, err := alice.EventsAfter(ctx, first.ID, func(c wire.StatusChange) error { next = c; return errEnough }); !errors.Is(err, errEnough) ||
		next.ID <= first.ID || next.To != wire.StatusRunning {
		t.Fatalf("resumed after %d: %+v, %v", first.ID, next, err)
	}
	a = try(alice.Agent(ctx, a.ID)).must(t)
	if a.Status != wire.StatusRunning || a.HostPort == 0 || a.StatusChangedAt.IsZero() {
		t.Fatalf("after start: %+v", a)
	}
	if logs := try(alice.Logs(ctx, a.ID, client.LogOptions{Tail: 10})).must(t); !strings.Contains(logs, "warder-agent starting") {
		t.Fatalf("logs: %q", logs)
	}
	var lines []wire.LogLine
	reason := try(alice.StreamLogs(ctx, a.ID, client.LogOptions{Tail: 10}, func(l wire.LogLine) error {
		lines = append(lines, l)
		return nil
	})).must(t)
	if len(lines) != 1 || lines[0].Text != "warder-agent starting" || lines[0].Stream != "stdout" || reason != "end of logs" {
		t.Fatalf("streamed logs: %+v, %q", lines, reason)
	}
	st := try(alice.Stats(ctx, a.ID)).must(t)
	if st.MemoryLimitBytes != 128<<20 || st.MemoryLimit != "128.0MB" || st.ReadAt.IsZero() {
		t.Fatalf("stats: %+v", st)
	}
	hist := try(alice.StatsHistory(ctx, a.ID, time.Minute)).must(t)
	if hist.Stats.MemoryLimitBytes != 128<<20 {
		t.Fatalf("stats history: %+v", hist)
	}
	var samples int
	wctx, stopWatch := context.WithTimeout(ctx, 5*time.Second)
	_, err := alice.WatchStats(wctx, a.ID, func(v wire.StatsView) error {
		if samples++; samples == 2 {
			stopWatch()
		}
		return nil
	})
	stopWatch()
	if samples < 2 || err != nil {
		t.Fatalf("stats stream ended by its caller: %d samples, %v", samples, err)
	}
	try(alice.RestartAgent(ctx, a.ID)).must(t)
	if evs := try(alice.AgentEvents(ctx, a.ID, 0)).must(t); len(evs) < 3 {
		t.Fatalf("agent events: %+v", evs)
	}

	// Chat, whole and streamed, and the conversation it leaves.
	reply := try(alice.Chat(ctx, a.ID, wire.ChatRequest{Content: "hello there"})).must(t)
	if reply.Content != "echo: hello there" || reply.ConversationID == "" || reply.Model != "echo-1" {
		t.Fatalf("chat: %+v", reply)
	}
	var pieces []string
	streamed := try(alice.ChatStream(ctx, a.ID, wire.ChatRequest{Content: "and again", ConversationID: reply.ConversationID},
		func(p string) error { pieces = append(pieces, p); return nil })).must(t)
	if strings.Join(pieces, "") != "echo: and again" || len(pieces) != 3 || streamed.Content != "echo: and again" {
		t.Fatalf("streamed chat: %q %+v", pieces, streamed)
	}
	convs := try(alice.Conversations(ctx, a.ID, 0)).must(t)
	if len(convs) != 1 || convs[0].MessageCount != 4 {
		t.Fatalf("conversations: %+v", convs)
	}
	conv := try(alice.Conversation(ctx, a.ID, reply.ConversationID, 0)).must(t)
	if conv.Conversation == nil || conv.ID != reply.ConversationID || len(conv.Messages) != 4 || conv.Messages[3].Content != "echo: and again" {
		t.Fatalf("conversation: %+v", conv)
	}

	// The proxy reaches the fake's endpoint, where nothing listens: 502.
	if _, err := alice.Proxy(ctx, a.ID, "GET", "/health", nil, nil); client.StatusOf(err) != http.StatusBadGateway {
		t.Fatalf("proxy to nothing: %v", err)
	}

	// Admin.
	users := try(admin.Users(ctx)).must(t)
	if len(users) != 2 {
		t.Fatalf("users: %+v", users)
	}
	bob := try(admin.CreateUser(ctx, wire.RegisterRequest{Username: "bob", Email: "bob@example.com", Password: "password1"})).must(t)
	two := 2
	usage := try(admin.SetUserLimits(ctx, bob.ID, wire.Limits{RunningAgents: &two})).must(t)
	if usage.Limits.RunningAgents == nil || *usage.Limits.RunningAgents != 2 {
		t.Fatalf("set limits: %+v", usage)
	}
	if u := try(admin.UserLimits(ctx, bob.ID)).must(t); *u.Limits.RunningAgents != 2 {
		t.Fatalf("limits: %+v", u)
	}
	if u := try(alice.Limits(ctx)).must(t); u.Used.Agents != 1 || u.Used.RunningAgents != 1 {
		t.Fatalf("own limits: %+v", u)
	}
	if st := try(admin.SystemStatus(ctx)).must(t); st.Users != 3 || st.AgentsByStatus[wire.StatusRunning] != 1 {
		t.Fatalf("system status: %+v", st)
	}
	if err := admin.DisableUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := admin.EnableUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	entries := try(admin.Audit(ctx, client.AuditQuery{User: "alice", AgentID: a.ID, Limit: 50})).must(t)
	if len(entries) == 0 || entries[0].AgentID != a.ID {
		t.Fatalf("audit: %+v", entries)
	}
	if _, err := alice.Audit(ctx, client.AuditQuery{}); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("audit as a user: %v", err)
	}
	if doc := try(admin.OpenAPI(ctx)).must(t); !strings.Contains(string(doc), `"openapi":"3.1.0"`) {
		t.Fatalf("openapi: %.100s", doc)
	}
	if m := try(admin.Metrics(ctx)).must(t); m != "up 1\n" {
		t.Fatalf("metrics: %q", m)
	}

	// The end: stop, delete, revoke, log out.
	try(alice.StopAgent(ctx, a.ID)).must(t)
	if err := alice.DeleteAgent(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := alice.DeleteKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Me(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("revoked key: %v", err)
	}
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Me(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("after logout: %v", err)
	}

	// Every operation of the document was answered, and checked against it.
	answered := map[string]bool{}
	for _, seen := range s.Checker.Seen() {
		answered[seen[:strings.LastIndex(seen, " ")]] = true
	}
	for _, op := range []string{"POST /api/auth/register", "POST /api/auth/login", "POST /api/auth/token", "POST /api/auth/logout",
		"GET /api/auth/me", "POST /api/auth/keys", "GET /api/auth/keys", "DELETE /api/auth/keys/{id}",
		"GET /api/system/limits", "GET /api/system/status", "GET /api/admin/users", "POST /api/admin/users",
		"POST /api/admin/users/{id}/disable", "POST /api/admin/users/{id}/enable", "GET /api/admin/users/{id}/limits",
		"PUT /api/admin/users/{id}/limits", "POST /api/agents", "GET /api/agents", "GET /api/agents/{id}",
		"PUT /api/agents/{id}", "PATCH /api/agents/{id}", "DELETE /api/agents/{id}", "POST /api/agents/{id}/start",
		"POST /api/agents/{id}/stop", "POST /api/agents/{id}/restart", "GET /api/agents/{id}/logs",
		"GET /api/agents/{id}/stats", "GET /api/agents/{id}/events", "POST /api/agents/{id}/chat",
		"GET /api/agents/{id}/conversations", "GET /api/agents/{id}/conversations/{cid}", "GET /api/events",
		"GET /api/audit", "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/openapi.json",
		"GET /api/agents/{id}/proxy/{path}"} {
		if !answered[op] {
			t.Errorf("%s was not answered in this test: %v", op, s.Checker.Seen())
		}
	}
}

// TestClientErrors: an answer that is not a success is an *Error with
// the status and the server's detail.
func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	mustSignIn(t, s, "root")
	alice, _ := mustSignIn(t, s, "alice")
	bob, _ := mustSignIn(t, s, "bob")
	a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "mine"})).must(t)

	_, err := bob.Agent(ctx, a.ID)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusNotFound || !strings.Contains(e.Detail, "not found") || e.RequestID == "" {
		t.Fatalf("another user's agent: %#v", err)
	}
	if err.Error() != "404 Not Found: "+e.Detail {
		t.Fatalf("Error(): %q", err.Error())
	}
	if _, err := alice.CreateAgent(ctx, wire.AgentCreate{Name: "mine"}); client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("a taken name: %v", err)
	}
	if _, err := s.New("nonsense").Me(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("a bad token: %v", err)
	}
	if _, err := alice.Stats(ctx, a.ID); client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("stats of a stopped agent: %v", err)
	}
	if _, err := alice.StreamLogs(ctx, "00000000-0000-4000-8000-000000000000", client.LogOptions{}, func(wire.LogLine) error { return nil }); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("logs of no agent: %v", err)
	}
	// A dead server is a transport error, not an *Error.
	dead := client.New("http://127.0.0.1:1", "x")
	if _, err := dead.Me(ctx); err == nil || client.StatusOf(err) != 0 {
		t.Fatalf("dead server: %v", err)
	}
}

// TestClientStreamsEnd: a stream ends with the server's reason when the
// agent stops, and at once when its context ends.
func TestClientStreamsEnd(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	alice, _ := mustSignIn(t, s, "alice")
	a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "a"})).must(t)
	try(alice.StartAgent(ctx, a.ID)).must(t)

	type result struct {
		reason string
		err    error
	}
	logsDone, statsDone := make(chan result, 1), make(chan result, 1)
	go func() {
		r, err := alice.StreamLogs(ctx, a.ID, client.LogOptions{Follow: true}, func(wire.LogLine) error { return nil })
		logsDone <- result{r, err}
	}()
	go func() {
		r, err := alice.WatchStats(ctx, a.ID, func(wire.StatsView) error { return nil })
		statsDone <- result{r, err}
	}()
	time.Sleep(300 * time.Millisecond)
	try(alice.StopAgent(ctx, a.ID)).must(t)
	for name, ch := range map[string]chan result{"logs": logsDone, "stats": statsDone} {
		select {
		case r := <-ch:
			if r.err != nil || !strings.Contains(r.reason, "stopped") && !strings.Contains(r.reason, "not running") {
				t.Fatalf("%s stream after stop: %q, %v", name, r.reason, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s stream did not end after the agent stopped", name)
		}
	}

	// A callback's error ends the stream and comes back as it is.
	try(alice.StartAgent(ctx, a.ID)).must(t)
	stop := errors.New("enough")
	if _, err := alice.WatchStats(ctx, a.ID, func(wire.StatsView) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error: %v", err)
	}
	// Logging out ends an open stream with the server's reason.
	done := make(chan result, 1)
	go func() {
		r, err := alice.Events(ctx, func(wire.StatusChange) error { return nil })
		done <- result{r, err}
	}()
	s.waitSubscribed(t, 1)
	other := try(s.New("").Login(ctx, "alice", "correct horse")).must(t)
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || !strings.Contains(r.reason, "revoked") {
			t.Fatalf("events after logout: %q, %v", r.reason, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events stream outlived its token")
	}
	_ = other
}
