package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testKey = "sk-test-0123456789abcdef"

// fakeLLM is an OpenAI-compatible server whose answer to each request is
// fn's; it checks what every chat-completions request must carry.
func fakeLLM(t *testing.T, fn func(w http.ResponseWriter, r *http.Request, req completionRequest)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			fn(w, r, completionRequest{})
			return
		}
		if r.Method != "POST" || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization = %q", got)
		}
		var req completionRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request body: %v", err)
		}
		fn(w, r, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// newTestClient is an llmClient for srv with model m and timeout d.
func newTestClient(t *testing.T, srv *httptest.Server, d time.Duration) *llmClient {
	t.Helper()
	u, err := url.Parse(srv.URL + "/v1")
	if err != nil {
		t.Fatal(err)
	}
	temp := 0.5
	return newLLMClient(llmSettings{base: u, key: testKey, timeout: d}, agentConfig{Model: "m1", Temperature: &temp})
}

// sseChunk writes one streamed chunk and flushes it.
func sseChunk(w http.ResponseWriter, content string, finish bool) {
	c := map[string]any{"model": "m1-2026", "choices": []map[string]any{{"delta": map[string]string{"content": content}, "finish_reason": nil}}}
	if finish {
		c["choices"].([]map[string]any)[0]["finish_reason"] = "stop"
	}
	b, _ := json.Marshal(c)
	fmt.Fprintf(w, "data: %s\n\n", b)
	w.(http.Flusher).Flush()
}

func completionJSON(content string) string {
	return `{"id":"c1","model":"m1-2026","choices":[{"index":0,"message":{"role":"assistant","content":` +
		fmt.Sprintf("%q", content) + `},"finish_reason":"stop"}]}`
}

func TestLLMPlainAnswer(t *testing.T) {
	var got completionRequest
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, req completionRequest) {
		got = req
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, completionJSON("Hello, Ada."))
	})
	c := newTestClient(t, srv, 5*time.Second)
	msgs := []message{{"system", "Be brief."}, {"user", "hi"}, {"assistant", "hello"}, {"user", "who am I?"}}
	rep, err := c.complete(context.Background(), msgs, nil)
	if err != nil || rep.Content != "Hello, Ada." || rep.Model != "m1-2026" {
		t.Fatalf("complete = %+v, %v", rep, err)
	}
	if got.Model != "m1" || got.Stream || got.Temperature == nil || *got.Temperature != 0.5 || got.MaxTokens != nil || len(got.Messages) != 4 || got.Messages[3] != msgs[3] {
		t.Fatalf("upstream got %+v", got)
	}
}

// TestLLMStreamInPieces: each piece reaches onDelta while the model API is
// still writing the next one.
func TestLLMStreamInPieces(t *testing.T) {
	release := make(chan struct{})
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, req completionRequest) {
		if !req.Stream {
			t.Error("stream not asked for")
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": keep-alive comment\n\n")
		sseChunk(w, "", false) // the role-only first chunk OpenAI sends
		sseChunk(w, "Hel", false)
		<-release
		sseChunk(w, "lo", true)
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	c := newTestClient(t, srv, 5*time.Second)
	var pieces []string
	rep, err := c.complete(context.Background(), []message{{"user", "hi"}}, func(p string) error {
		pieces = append(pieces, p)
		if len(pieces) == 1 {
			close(release) // the rest comes only after the first piece arrived
		}
		return nil
	})
	if err != nil || rep.Content != "Hello" || rep.Model != "m1-2026" || strings.Join(pieces, "|") != "Hel|lo" {
		t.Fatalf("complete = %+v, %v; pieces %q", rep, err, pieces)
	}
}

// TestLLMFailures: every way the model API can fail is a clear
// upstreamError, in bounded time, that never shows the key.
func TestLLMFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name   string
		stream bool
		fn     func(w http.ResponseWriter, r *http.Request)
		want   string
	}{
		{"401 echoing the key", false, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"Incorrect API key provided: `+testKey+`"}}`, 401)
		}, "the model API rejected LLM_API_KEY (HTTP 401)"},
		{"429", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "20")
			http.Error(w, `{"error":{"message":"Rate limit reached"}}`, 429)
		}, "rate limiting this key or it is out of quota (HTTP 429); retry after 20s: Rate limit reached"},
		{"500 echoing the key", false, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"boom with `+testKey+`"}`, 500)
		}, "the model API failed (HTTP 500): boom with [redacted]"},
		{"404", false, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no such thing", 404)
		}, `knows no model "m1"`},
		{"timeout before headers", false, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, "the model API did not answer within 300ms (LLM_TIMEOUT)"},
		{"stream stalls", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			sseChunk(w, "partial", false)
			<-r.Context().Done()
		}, "the model API did not answer within 300ms (LLM_TIMEOUT)"},
		{"garbage", false, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html>hello</html>")
		}, "not a chat completion"},
		{"no choices", false, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"choices":[]}`)
		}, "without a message"},
		{"garbage stream", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {not json\n\n")
		}, "not chat-completion chunks"},
		{"stream cut short", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			sseChunk(w, "half", false)
		}, "ended before the answer was complete"},
		{"error mid-stream", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, `data: {"error":{"message":"overloaded"}}`+"\n\n")
		}, "reported an error mid-answer: overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, _ completionRequest) { tt.fn(w, r) })
			c := newTestClient(t, srv, 300*time.Millisecond)
			var onDelta func(string) error
			if tt.stream {
				onDelta = func(string) error { return nil }
			}
			start := time.Now()
			_, err := c.complete(context.Background(), []message{{"user", "hi"}}, onDelta)
			var ue *upstreamError
			if !errors.As(err, &ue) || !strings.Contains(ue.msg, tt.want) {
				t.Fatalf("complete = %v, want an upstreamError containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("error %q shows the key", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("failing took %v", d)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		c := newTestClient(t, closed, time.Second)
		_, err := c.complete(context.Background(), []message{{"user", "hi"}}, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the model API at "+closed.URL+"/v1: ") || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("complete = %v", err)
		}
	})
}

// TestLLMStreamFallback: a server that ignores "stream" still answers,
// as one piece.
func TestLLMStreamFallback(t *testing.T) {
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, req completionRequest) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, completionJSON("all at once"))
	})
	var pieces []string
	rep, err := newTestClient(t, srv, time.Second).complete(context.Background(), []message{{"user", "hi"}}, func(p string) error {
		pieces = append(pieces, p)
		return nil
	})
	if err != nil || rep.Content != "all at once" || len(pieces) != 1 {
		t.Fatalf("complete = %+v, %v, pieces %q", rep, err, pieces)
	}
}

func TestLLMStatus(t *testing.T) {
	code := 200
	calls := 0
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, _ completionRequest) {
		calls++
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("status check without the key")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, `{"data":[]}`)
	})
	c := newTestClient(t, srv, time.Second)
	if state, detail := c.status(context.Background()); state != "ok" || detail != "" {
		t.Fatalf("status = %q %q", state, detail)
	}
	code = 401
	if state, _ := c.status(context.Background()); state != "ok" || calls != 1 {
		t.Fatalf("status was not cached: %q after %d calls", state, calls)
	}
	c.checked = time.Time{}
	if state, detail := c.status(context.Background()); state != "error" || !strings.Contains(detail, "rejected LLM_API_KEY") {
		t.Fatalf("status with a bad key = %q %q", state, detail)
	}
	srv.Close()
	c.checked = time.Time{}
	if state, detail := c.status(context.Background()); state != "error" || !strings.Contains(detail, "cannot reach") {
		t.Fatalf("status of a closed server = %q %q", state, detail)
	}
}
