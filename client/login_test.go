package client_test

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestLoginAndRefresh: one call signs in and gives a ready client; Refresh
// renews its token in place and keeps the next refresh token, as each is
// good once; refreshes racing on one client take turns, so neither shows
// a used token (which would revoke the login); a client without a
// refresh token says so.
func TestLoginAndRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newServer(t, nil)
	mustSignIn(t, s, "alice")
	opts := []client.Option{client.WithHTTPClient(&http.Client{Transport: s.Checker})}

	if _, err := client.Login(ctx, s.URL, "alice", "wrong password", opts...); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %v, want a 401", err)
	}
	c, err := client.Login(ctx, s.URL, "alice", "correct horse", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if me := try(c.Me(ctx)).must(t); me.Username != "alice" {
		t.Fatalf("me: %+v", me)
	}
	first, firstRefresh := c.Token(), c.RefreshToken()
	if first == "" || firstRefresh == "" {
		t.Fatalf("after Login: token %q, refresh token %q", first, firstRefresh)
	}
	renewed := try(c.Refresh(ctx)).must(t)
	if c.Token() != renewed.AccessToken || c.Token() == first || c.RefreshToken() == firstRefresh || c.RefreshToken() != renewed.RefreshToken {
		t.Fatalf("after Refresh: token %q (was %q), refresh %q (was %q), answer %+v", c.Token(), first, c.RefreshToken(), firstRefresh, renewed)
	}
	if me := try(c.Me(ctx)).must(t); me.Username != "alice" {
		t.Fatalf("me with the renewed token: %+v", me)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := c.Refresh(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("racing refreshes: %v", err)
		}
	}
	if me := try(c.Me(ctx)).must(t); me.Username != "alice" {
		t.Fatalf("me after racing refreshes: %+v", me)
	}

	// A program that saved both tokens picks up where it left off.
	saved := client.New(s.URL, c.Token(), append(opts, client.WithRefreshToken(c.RefreshToken()))...)
	try(saved.Refresh(ctx)).must(t)
	if _, err := client.New(s.URL, saved.Token(), opts...).Refresh(ctx); !errors.Is(err, client.ErrNoRefreshToken) {
		t.Fatalf("Refresh without a refresh token: %v", err)
	}
}

// TestAgentByName: a name finds the caller's agent; an admin, who lists
// everyone's, finds their own first and is told when names are shared;
// no agent of the name is a 404.
func TestAgentByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newServer(t, nil)
	root, _ := mustSignIn(t, s, "root") // the first user: the admin
	alice, _ := mustSignIn(t, s, "alice")
	bob, _ := mustSignIn(t, s, "bob")
	mine := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "helper"})).must(t)
	try(bob.CreateAgent(ctx, wire.AgentCreate{Name: "helper"})).must(t)

	if a := try(alice.AgentByName(ctx, "helper")).must(t); a.ID != mine.ID {
		t.Fatalf("alice's helper: %+v", a)
	}
	if _, err := alice.AgentByName(ctx, "nobody"); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("no such name: %v, want a 404", err)
	}
	if _, err := root.AgentByName(ctx, "helper"); err == nil || !strings.Contains(err.Error(), "2 agents") {
		t.Fatalf("an admin's lookup of a shared name: %v", err)
	}
	own := try(root.CreateAgent(ctx, wire.AgentCreate{Name: "helper"})).must(t)
	if a := try(root.AgentByName(ctx, "helper")).must(t); a.ID != own.ID {
		t.Fatalf("an admin's own helper: %+v", a)
	}
}

// TestLogOptions: the zero LogOptions is the whole log in Logs and in
// StreamLogs alike; Tail keeps the latest lines; a follow that the
// caller's context ends returns no error, as does any watch the caller
// ends. (Which lines a follow of only new lines sends is the server's
// lines=0: the fake runtime keeps no times, so it is not checked here.)
func TestLogOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newServer(t, nil)
	alice, _ := mustSignIn(t, s, "alice")
	a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "a"})).must(t)
	try(alice.StartAgent(ctx, a.ID)).must(t)

	if logs := try(alice.Logs(ctx, a.ID, client.LogOptions{})).must(t); logs != "warder-agent starting\n" {
		t.Fatalf("the whole log: %q", logs)
	}
	if logs := try(alice.Logs(ctx, a.ID, client.LogOptions{Tail: 1})).must(t); logs != "warder-agent starting\n" {
		t.Fatalf("the last line: %q", logs)
	}
	var lines []string
	if _, err := alice.StreamLogs(ctx, a.ID, client.LogOptions{}, func(l wire.LogLine) error {
		lines = append(lines, l.Text)
		return nil
	}); err != nil || len(lines) != 1 {
		t.Fatalf("the whole log, streamed: %q, %v", lines, err)
	}

	fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	reason, err := alice.StreamLogs(fctx, a.ID, client.LogOptions{Follow: true, OnlyNew: true}, func(wire.LogLine) error { return nil })
	if err != nil || reason != "" {
		t.Fatalf("a follow until the caller's deadline: %q, %v; want no error", reason, err)
	}
	// A call that never began is still an error.
	if _, err := alice.StreamLogs(fctx, a.ID, client.LogOptions{Follow: true}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a follow asked for after the deadline: %v", err)
	}
}

// TestClientImportsOnlyWire: a program that uses the client builds only
// package wire of Warder's (and the standard library, and the WebSocket
// library of terminals): not the server's runtime contract, store or
// services.
func TestClientImportsOnlyWire(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", "github.com/warder/warder/client").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "github.com/warder/warder/client", p == "github.com/warder/warder/wire":
		case strings.HasPrefix(p, "github.com/warder/"):
			t.Errorf("the client imports %s", p)
		case strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && !strings.HasPrefix(p, "github.com/coder/websocket"):
			t.Errorf("the client imports %s, not a package of the standard library", p)
		}
	}
}
