package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/apitest"
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
