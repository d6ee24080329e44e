package agenthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
)

// agentServer is a stand-in agent whose /chat answers are fn's.
func agentServer(t *testing.T, fn func(w http.ResponseWriter, r *http.Request, msg warder.AgentChat)) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg warder.AgentChat
		if r.URL.Path == "/chat" {
			if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
				t.Errorf("chat body: %v", err)
			}
		}
		fn(w, r, msg)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func event(w http.ResponseWriter, name, data string) {
	if name != "" {
		fmt.Fprintf(w, "event: %s\n", name)
	}
	fmt.Fprintf(w, "data: %s\n\n", data)
	w.(http.Flusher).Flush()
}

func TestChatWhole(t *testing.T) {
	var got warder.AgentChat
	base := agentServer(t, func(w http.ResponseWriter, r *http.Request, msg warder.AgentChat) {
		got = msg
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"role":"assistant","content":"fine","model":"m1"}`)
	})
	history := []warder.AgentMessage{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}}
	ans, err := New(0).Chat(context.Background(), base, warder.AgentChat{Content: "c", Role: "user", Messages: history}, nil)
	if err != nil || ans != (warder.AgentAnswer{Content: "fine", Model: "m1"}) {
		t.Fatalf("Chat = %+v, %v", ans, err)
	}
	if got.Content != "c" || got.Stream || len(got.Messages) != 2 || got.Messages[1] != history[1] {
		t.Fatalf("the agent got %+v", got)
	}
}

// TestChatStream: pieces reach onDelta as they arrive, and the done
// event's answer is the result.
func TestChatStream(t *testing.T) {
	release := make(chan struct{})
	base := agentServer(t, func(w http.ResponseWriter, r *http.Request, msg warder.AgentChat) {
		if !msg.Stream || r.Header.Get("Accept") != "text/event-stream" {
			t.Errorf("stream not asked for: %+v", msg)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": comment\n\n")
		event(w, "", `{"content":"one "}`)
		<-release
		event(w, "ping", `{}`)
		event(w, "", `{"content":"two"}`)
		event(w, "done", `{"role":"assistant","content":"one two","model":"m1"}`)
	})
	var pieces []string
	ans, err := New(0).Chat(context.Background(), base, warder.AgentChat{Content: "x"}, func(p string) error {
		pieces = append(pieces, p)
		if len(pieces) == 1 {
			close(release)
		}
		return nil
	})
	if err != nil || ans.Content != "one two" || ans.Model != "m1" || strings.Join(pieces, "|") != "one |two" {
		t.Fatalf("Chat = %+v, %v, pieces %q", ans, err, pieces)
	}
}

// TestChatFailures: every failure of the agent is ErrBadGateway with a
// message that says what happened, in bounded time.
func TestChatFailures(t *testing.T) {
	tests := []struct {
		name   string
		stream bool
		fn     func(w http.ResponseWriter, r *http.Request)
		want   string
	}{
		{"502 with detail", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			fmt.Fprint(w, `{"detail":"the model API rejected LLM_API_KEY (HTTP 401)"}`)
		}, "the model API rejected LLM_API_KEY (HTTP 401)"},
		{"400 with detail", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"detail":"content is required"}`)
		}, "the agent answered HTTP 400: content is required"},
		{"404 plain", false, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "the agent answered HTTP 404"},
		{"garbage", false, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }, "not {\"content\": ...}"},
		{"error event", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			event(w, "", `{"content":"so far"}`)
			event(w, "error", `{"detail":"the model API did not answer within 1s (LLM_TIMEOUT)"}`)
		}, "the model API did not answer within 1s (LLM_TIMEOUT)"},
		{"stream without done", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			event(w, "", `{"content":"so far"}`)
		}, "ended before its answer was complete"},
		{"silent", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			event(w, "", `{"content":"so far"}`)
			<-r.Context().Done()
		}, "the agent did not answer for 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := agentServer(t, func(w http.ResponseWriter, r *http.Request, _ warder.AgentChat) { tt.fn(w, r) })
			var onDelta func(string) error
			if tt.stream {
				onDelta = func(string) error { return nil }
			}
			start := time.Now()
			_, err := New(300*time.Millisecond).Chat(context.Background(), base, warder.AgentChat{Content: "x"}, onDelta)
			if !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(warder.ErrorMessage(err), tt.want) {
				t.Fatalf("Chat = %v, want ErrBadGateway containing %q", err, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("failing took %v", d)
			}
		})
	}
}

// TestChatCallerGone: an error from onDelta ends the answer and comes
// back as it is, not as the agent's fault.
func TestChatCallerGone(t *testing.T) {
	base := agentServer(t, func(w http.ResponseWriter, r *http.Request, _ warder.AgentChat) {
		w.Header().Set("Content-Type", "text/event-stream")
		event(w, "", `{"content":"a"}`)
		event(w, "done", `{"content":"a"}`)
	})
	gone := errors.New("client gone")
	_, err := New(0).Chat(context.Background(), base, warder.AgentChat{Content: "x"}, func(string) error { return gone })
	if !errors.Is(err, gone) || errors.Is(err, warder.ErrBadGateway) {
		t.Fatalf("Chat = %v, want the onDelta error", err)
	}
}

func TestHealth(t *testing.T) {
	c := New(0)
	for code, ok := range map[int]bool{200: true, 404: true, 503: false} {
		base := agentServer(t, func(w http.ResponseWriter, r *http.Request, _ warder.AgentChat) {
			if r.URL.Path != "/health" {
				t.Errorf("path %s", r.URL.Path)
			}
			w.WriteHeader(code)
		})
		if err := c.Health(context.Background(), base); (err == nil) != ok || (err != nil && !errors.Is(err, warder.ErrBadGateway)) {
			t.Errorf("Health with %d = %v", code, err)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	u, _ := url.Parse(closed.URL)
	if err := c.Health(context.Background(), u); !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("Health of a closed port = %v", err)
	}
}

// TestHealthKeepsConnection: probes of one agent reuse one connection,
// which stays open longer than a steady agent's 30 s between probes, so
// a probe does not open a connection through the engine's proxy each time.
func TestHealthKeepsConnection(t *testing.T) {
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := New(0)
	for i := range 5 {
		if err := c.Health(context.Background(), u); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("5 probes opened %d connections, want 1", n)
	}
	if idle := c.http.Transport.(*http.Transport).IdleConnTimeout; idle <= 30*time.Second {
		t.Errorf("idle connections close after %s: a steady agent's probe (every 30 s) would reconnect", idle)
	}
}
