package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestEventsStream: /api/events delivers status changes of the caller's
// agents (an admin's: everyone's), and ends when the server shuts down.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	root := ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	streams := map[string]*apitest.LiveStream{
		"root": root.Open("/api/events", true), "alice": alice.Open("/api/events", true), "bob": bob.Open("/api/events", true),
	}
	a := alice.CreateAgent("watched")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	for _, who := range []string{"root", "alice"} {
		var seen []warder.Status
		for len(seen) < 2 {
			ev := streams[who].Next(t, 5*time.Second)
			var c warder.StatusChange
			ev.Decode(t, &c)
			if ev.Name != "status" || c.AgentID != a.ID || c.UserID != alice.UserID || c.Actor != "user:alice" {
				t.Fatalf("%s got %s %s", who, ev.Name, ev.Data)
			}
			seen = append(seen, c.To)
		}
		if seen[0] != warder.StatusStarting || seen[1] != warder.StatusRunning {
			t.Fatalf("%s saw %v, want starting then running", who, seen)
		}
	}
	select {
	case ev := <-streams["bob"].Events:
		t.Fatalf("bob saw alice's agent: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}

	ts.App.Handler().CloseStreams()
	for who, s := range streams {
		ev := s.Next(t, 5*time.Second)
		var end map[string]string
		json.Unmarshal([]byte(ev.Data), &end)
		if ev.Name != "end" || !strings.Contains(end["reason"], "shutting down") {
			t.Fatalf("%s: %s %s at shutdown", who, ev.Name, ev.Data)
		}
	}
}

// TestStreamCap: a user holds at most 32 streams at once; the next is a
// 429 that says why, other users are unaffected, and a closed stream
// frees its slot.
func TestStreamCap(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	chatty := alice.CreateAgent("chatty")
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
	// A chat holds a slot too, streamed or not: an answer can take minutes.
	for _, body := range []string{`{"content": "hi"}`, `{"content": "hi", "stream": true}`} {
		if status, raw := alice.Do("POST", "/api/agents/"+chatty.ID+"/chat", body); status != http.StatusTooManyRequests || !strings.Contains(apitest.DetailOf(t, raw), "at most 32") {
			t.Fatalf("alice's chat %s with 32 streams open = %d %s", body, status, raw)
		}
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

// TestEventsResume: every status event carries an id; a client that
// reconnects with Last-Event-ID first gets the changes it missed, each
// once, then the new ones. An id that is not a number is a 400.
func TestEventsResume(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("resumed")
	s := alice.Open("/api/events", true)
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var last apitest.Event
	for _, want := range []warder.Status{warder.StatusStarting, warder.StatusRunning} {
		last = s.Next(t, 5*time.Second)
		var c warder.StatusChange
		last.Decode(t, &c)
		if c.To != want || last.ID == "" || last.ID != fmt.Sprint(c.ID) {
			t.Fatalf("got id %q %s, want %s with its id", last.ID, last.Data, want)
		}
	}
	s.Close()
	alice.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil) // while away
	r := alice.OpenAfter("/api/events", true, last.ID)
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var seen []warder.Status
	for len(seen) < 4 {
		var c warder.StatusChange
		r.Next(t, 5*time.Second).Decode(t, &c)
		seen = append(seen, c.To)
	}
	if fmt.Sprint(seen) != "[stopping stopped starting running]" {
		t.Fatalf("after reconnecting: %v", seen)
	}

	req, _ := http.NewRequest("GET", ts.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	req.Header.Set("Last-Event-ID", "yesterday")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "Last-Event-ID") {
		t.Fatalf("a bad Last-Event-ID = %d %s", resp.StatusCode, body)
	}
}
