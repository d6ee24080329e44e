package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

const testLLMKey = "sk-warder-test-4f9c1e27"

// createLLMAgent creates (without starting) an agent whose model is llm,
// with its key as a secret and a 1 s LLM_TIMEOUT; extra env vars are added.
func createLLMAgent(c *apitest.Client, name string, llm *fakeLLM, extra map[string]string) apitest.Agent {
	c.T.Helper()
	env := map[string]string{"LLM_BASE_URL": llm.URL, "LLM_TIMEOUT": "1s"}
	for k, v := range extra {
		env[k] = v
	}
	status, raw := c.Do("POST", "/api/agents", map[string]any{
		"name":   name,
		"config": map[string]any{"model": "fake-model", "system_prompt": "You are terse."},
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25, "env_vars": env,
			"secret_env": map[string]string{"LLM_API_KEY": testLLMKey}},
	})
	var a apitest.Agent
	if err := json.Unmarshal(raw, &a); status != 201 || err != nil || strings.Contains(string(raw), testLLMKey) {
		c.T.Fatalf("creating %s = %d %s", name, status, raw)
	}
	return a
}

// chatReply is POST /chat's answer.
type chatReply struct {
	ConversationID string `json:"conversation_id"`
	Role           string `json:"role"`
	Content        string `json:"content"`
	Model          string `json:"model"`
}

// TestChatThroughWarder: chat with an agent that was never started starts
// it, reaches the model with the system prompt and the conversation so
// far, streams in pieces, stores every turn, and turns the model's
// failures into clear 502s without ever showing the key.
func TestChatThroughWarder(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	llm := newFakeLLM(t, ts)
	ts.register(t, "root")
	c := ts.register(t, "alice")
	a := createLLMAgent(c, "talker", llm, nil)
	chat := "/api/agents/" + a.ID + "/chat"

	// A plain answer, from an agent that was never started.
	var r1 chatReply
	c.MustDo("POST", chat, map[string]any{"content": "hello"}, 200, &r1)
	if r1.Content != "You said: hello (2 messages)" || r1.Role != "assistant" || r1.Model != "fake-model-0001" || r1.ConversationID == "" {
		t.Fatalf("first answer = %+v", r1)
	}
	req := llm.Requests()[0]
	if req.Auth != "Bearer "+testLLMKey || req.Model != "fake-model" || req.Stream || len(req.Messages) != 2 ||
		req.Messages[0].Role != "system" || req.Messages[0].Content != "You are terse." || req.Messages[1].Content != "hello" {
		t.Fatalf("the model got %+v", req)
	}
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusRunning || a.LastUsedAt == nil {
		t.Fatalf("after the first chat: %+v", a)
	}

	// The conversation so far reaches the model.
	var r2 chatReply
	c.MustDo("POST", chat, map[string]any{"content": "and again", "conversation_id": r1.ConversationID}, 200, &r2)
	if r2.ConversationID != r1.ConversationID || r2.Content != "You said: and again (4 messages)" {
		t.Fatalf("second answer = %+v", r2)
	}
	got := llm.Requests()[1].Messages
	if len(got) != 4 || got[1].Content != "hello" || got[2].Role != "assistant" || got[2].Content != r1.Content || got[3].Content != "and again" {
		t.Fatalf("history the model got: %+v", got)
	}

	// A streamed answer arrives in pieces: the first while the model has
	// not yet written the second.
	resp := c.Stream("POST", chat, fmt.Sprintf(`{"content": "gated", "stream": true, "conversation_id": %q}`, r1.ConversationID))
	ev := apitest.Events(t, resp)
	if first := ev.Next(); first.Name != "" || first.Data["content"] != "first " {
		t.Fatalf("first event = %+v", first)
	}
	if resp.Header.Get("X-Conversation-ID") != r1.ConversationID {
		t.Fatalf("X-Conversation-ID = %q", resp.Header.Get("X-Conversation-ID"))
	}
	llm.Release()
	if second := ev.Next(); second.Data["content"] != "second" {
		t.Fatalf("second event = %+v", second)
	}
	done := ev.Next()
	if done.Name != "done" || done.Data["content"] != "first second" || done.Data["conversation_id"] != r1.ConversationID || done.Data["model"] != "fake-model-0001" {
		t.Fatalf("done event = %+v", done)
	}

	// The model's failures are clear 502s, fast, and store nothing.
	for content, want := range map[string]string{
		"401":     "the model API rejected LLM_API_KEY (HTTP 401)",
		"429":     "rate limiting",
		"slow":    "the model API did not answer within 1s (LLM_TIMEOUT)",
		"garbage": "not a chat completion",
	} {
		for _, stream := range []bool{false, true} {
			start := time.Now()
			status, raw := c.Do("POST", chat, map[string]any{"content": content, "stream": stream})
			d := apitest.DetailOf(t, raw)
			if status != http.StatusBadGateway || !strings.Contains(d, want) || strings.Contains(string(raw), testLLMKey) {
				t.Errorf("%s (stream %v) = %d %s, want 502 with %q", content, stream, status, raw, want)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("%s took %v", content, time.Since(start))
			}
		}
	}

	// Every successful turn, and only those, is stored.
	var list struct{ Conversations []warder.Conversation }
	c.MustDo("GET", "/api/agents/"+a.ID+"/conversations", nil, 200, &list)
	if len(list.Conversations) != 1 || list.Conversations[0].ID != r1.ConversationID || list.Conversations[0].MessageCount != 6 || list.Conversations[0].Title != "hello" {
		t.Fatalf("conversations = %+v", list)
	}
	var conv struct {
		warder.Conversation
		Messages []warder.Message
	}
	c.MustDo("GET", "/api/agents/"+a.ID+"/conversations/"+r1.ConversationID, nil, 200, &conv)
	want := []string{"user:hello", "assistant:" + r1.Content, "user:and again", "assistant:" + r2.Content, "user:gated", "assistant:first second"}
	if len(conv.Messages) != len(want) {
		t.Fatalf("conversation = %+v", conv)
	}
	for i, m := range conv.Messages {
		if m.Role+":"+m.Content != want[i] || m.CreatedAt.IsZero() {
			t.Errorf("message %d = %+v, want %s", i, m, want[i])
		}
	}

	// The key is in no log, and the container's health check shows.
	if logs := c.WaitLogs(a.ID, "chat failed: the model API rejected LLM_API_KEY", 10*time.Second); strings.Contains(logs, testLLMKey) {
		t.Fatalf("agent logs show the key:\n%s", logs)
	}
	c.WaitStatus(a.ID, 60*time.Second, func(a apitest.Agent) bool { return a.Health == "healthy" })

	// Deleting the agent deletes its conversations.
	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	if _, err := ts.App.Store().Conversation(context.Background(), r1.ConversationID); err == nil {
		t.Fatal("the conversation outlived its agent")
	}
}

// TestChatOffline: with no model API at all the default agent answers,
// plainly offline, whole or streamed; a stopped agent is started for it.
func TestChatOffline(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := c.CreateAgent("offline")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)

	var r chatReply
	c.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "anyone there?", "role": "user"}, 200, &r)
	if !strings.Contains(r.Content, "[offline built-in model]") || !strings.Contains(r.Content, `You said: "anyone there?"`) || r.Model != "offline" {
		t.Fatalf("offline answer = %+v", r)
	}
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusRunning {
		t.Fatalf("after chat with a stopped agent: %s", a.Status)
	}
	resp := c.Stream("POST", "/api/agents/"+a.ID+"/chat", fmt.Sprintf(`{"content": "again", "stream": true, "conversation_id": %q}`, r.ConversationID))
	ev := apitest.Events(t, resp)
	var pieces []string
	for e := ev.Next(); ; e = ev.Next() {
		if e.Name == "done" {
			if e.Data["content"] != strings.Join(pieces, "") || len(pieces) < 3 || !strings.Contains(e.Data["content"].(string), "(2 earlier messages in this conversation)") {
				t.Fatalf("offline stream: pieces %q, done %+v", pieces, e)
			}
			break
		}
		pieces = append(pieces, e.Data["content"].(string))
	}
	var health map[string]string
	c.MustDo("GET", "/api/agents/"+a.ID+"/proxy/health", nil, 200, &health)
	if health["model"] != "offline" || health["upstream"] != "offline" || health["agent_id"] != a.ID {
		t.Fatalf("agent health = %v", health)
	}
	status, raw := c.Do("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "x", "role": "system"})
	if status != 400 || !strings.Contains(apitest.DetailOf(t, raw), "role") {
		t.Fatalf("chat as system = %d %s", status, raw)
	}
}

// TestChatAccess: another user's agent does not exist for chat,
// conversations or the proxy, and a conversation of one agent cannot be
// continued through another.
func TestChatAccess(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	a, other := alice.CreateAgent("mine"), alice.CreateAgent("other")
	var r chatReply
	alice.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hi"}, 200, &r)
	for _, tt := range []struct{ method, path string }{
		{"POST", "/chat"},
		{"GET", "/conversations"},
		{"GET", "/conversations/" + r.ConversationID},
		{"GET", "/proxy/health"},
		{"POST", "/proxy/chat"},
	} {
		status, raw := bob.Do(tt.method, "/api/agents/"+a.ID+tt.path, map[string]any{"content": "hi"})
		if status != 404 || apitest.DetailOf(t, raw) != "agent not found" {
			t.Errorf("bob %s %s = %d %s, want 404", tt.method, tt.path, status, raw)
		}
	}
	status, raw := alice.Do("POST", "/api/agents/"+other.ID+"/chat", map[string]any{"content": "hi", "conversation_id": r.ConversationID})
	if status != 404 || apitest.DetailOf(t, raw) != "conversation not found" {
		t.Errorf("continuing a conversation through another agent = %d %s", status, raw)
	}
	status, _ = alice.Do("GET", "/api/agents/"+other.ID+"/conversations/"+r.ConversationID, nil)
	if status != 404 {
		t.Errorf("reading a conversation through another agent = %d", status)
	}
	if status, _ := (&apitest.Client{T: t, Base: ts.URL}).Do("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hi"}); status != 401 {
		t.Errorf("chat without a token = %d", status)
	}
}

// TestProxy: the proxy carries method, path, query, headers and body (past
// the API's 1 MiB cap) but not the caller's token, streams answers as they
// come, starts the agent on demand and counts as use.
func TestProxy(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	llm := newFakeLLM(t, ts)
	c := ts.register(t, "root")
	a := createLLMAgent(c, "proxied", llm, map[string]string{"WARDER_AGENT_ECHO": "1"})
	proxy := "/api/agents/" + a.ID + "/proxy"

	req, _ := http.NewRequest("PUT", ts.URL+proxy+"/echo/a%2Fb/c?x=1&y=two", strings.NewReader("hello agent"))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("X-Custom", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var echo struct {
		Method, Path, Query, Body string
		RawPath                   string `json:"raw_path"`
		Headers                   map[string]string
	}
	err = json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || echo.Method != "PUT" || echo.Body != "hello agent" || echo.Query != "x=1&y=two" {
		t.Fatalf("echo = %d %+v (%v)", resp.StatusCode, echo, err)
	}
	if echo.Headers["X-Custom"] != "kept" || echo.Headers["Authorization"] != "" || echo.Headers["X-Forwarded-For"] == "" {
		t.Fatalf("headers the agent got: %v", echo.Headers)
	}
	if echo.Path != "/echo/a/b/c" || echo.RawPath != "/echo/a%2Fb/c" {
		t.Fatalf("path the agent got: %q (%q)", echo.Path, echo.RawPath)
	}

	// A body over the API's cap goes through whole.
	big := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB
	resp = c.Stream("POST", proxy+"/echo/big", big)
	var size struct {
		BodyBytes int `json:"body_bytes"`
	}
	json.NewDecoder(resp.Body).Decode(&size)
	if resp.StatusCode != 200 || size.BodyBytes != len(big) {
		t.Fatalf("big body = %d, %d bytes arrived, want %d", resp.StatusCode, size.BodyBytes, len(big))
	}

	// A streamed answer comes through piece by piece.
	resp = c.Stream("POST", proxy+"/chat", `{"content": "gated", "stream": true}`)
	ev := apitest.Events(t, resp)
	if first := ev.Next(); first.Data["content"] != "first " {
		t.Fatalf("first event through the proxy = %+v", first)
	}
	llm.Release()
	if ev.Next().Data["content"] != "second" || ev.Next().Name != "done" {
		t.Fatal("the rest of the stream did not come through")
	}

	// The agent's own answers pass as they are; use is recorded.
	status, body := c.Do("GET", proxy+"/no/such/path", nil)
	if status != 404 || strings.Contains(string(body), "detail") {
		t.Fatalf("agent 404 through the proxy = %d %s", status, body)
	}
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.LastUsedAt == nil || a.Status != warder.StatusRunning {
		t.Fatalf("after proxying: %+v", a)
	}
}
