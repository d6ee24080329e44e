package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event as a client reads it.
type sseEvent struct {
	name string
	data map[string]string
}

// readSSE reads every event of a stream.
func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var events []sseEvent
	name := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]string
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("event data %q: %v", line, err)
			}
			events = append(events, sseEvent{name, d})
			name = ""
		}
	}
	return events
}

// newLLMAgent serves an agent answering with the fake model API srv.
func newLLMAgent(t *testing.T, srv *httptest.Server, timeout time.Duration) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	a := agent{ID: "a1", Name: "Ada", SystemPrompt: "You are Ada.", Model: newTestClient(t, srv, timeout)}
	s := httptest.NewServer(newHandler(a, log.New(&logs, "", 0)))
	t.Cleanup(s.Close)
	return s, &logs
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestChatWithModel: the system prompt, the conversation so far and the
// message reach the model in order, and the answer comes back whole or as
// a stream.
func TestChatWithModel(t *testing.T) {
	var got completionRequest
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, req completionRequest) {
		got = req
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			sseChunk(w, "Two ", false)
			sseChunk(w, "pieces.", true)
			fmt.Fprint(w, "data: [DONE]\n\n")
			return
		}
		fmt.Fprint(w, completionJSON("Yes."))
	})
	a, _ := newLLMAgent(t, srv, 5*time.Second)

	resp, body := post(t, a.URL+"/chat", `{"content":"and now?","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`)
	var ans chatResponse
	if json.Unmarshal(body, &ans); resp.StatusCode != 200 || ans != (chatResponse{"assistant", "Yes.", "m1-2026"}) {
		t.Fatalf("POST /chat = %d %s", resp.StatusCode, body)
	}
	want := []message{{"system", "You are Ada."}, {"user", "hi"}, {"assistant", "hello"}, {"user", "and now?"}}
	if fmt.Sprint(got.Messages) != fmt.Sprint(want) {
		t.Fatalf("the model got %v, want %v", got.Messages, want)
	}

	resp, body = post(t, a.URL+"/chat", `{"content":"stream it","stream":true}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("streamed POST /chat = %d %v", resp.StatusCode, resp.Header)
	}
	events := readSSE(t, bytes.NewReader(body))
	if len(events) != 3 || events[0].data["content"] != "Two " || events[1].data["content"] != "pieces." ||
		events[2].name != "done" || events[2].data["content"] != "Two pieces." || events[2].data["model"] != "m1-2026" {
		t.Fatalf("events = %+v", events)
	}
}

// TestChatModelFailures: a failure before the first piece is 502
// {"detail"}; after it, an "error" event ends the stream. Neither, nor
// the log, shows the key.
func TestChatModelFailures(t *testing.T) {
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, req completionRequest) {
		var last string
		if n := len(req.Messages); n > 0 {
			last = req.Messages[n-1].Content
		}
		switch last {
		case "401":
			http.Error(w, "bad key "+testKey, 401)
		case "slow":
			<-r.Context().Done()
		case "break":
			w.Header().Set("Content-Type", "text/event-stream")
			sseChunk(w, "so far", false)
			fmt.Fprint(w, "data: garbage\n\n")
		}
	})
	a, logs := newLLMAgent(t, srv, 200*time.Millisecond)
	for content, want := range map[string]string{
		"401":  "the model API rejected LLM_API_KEY (HTTP 401)",
		"slow": "the model API did not answer within 200ms (LLM_TIMEOUT)",
	} {
		resp, body := post(t, a.URL+"/chat", `{"content":"`+content+`","stream":true}`)
		var d map[string]string
		if json.Unmarshal(body, &d); resp.StatusCode != 502 || d["detail"] != want {
			t.Errorf("%s: POST /chat = %d %s, want 502 %q", content, resp.StatusCode, body, want)
		}
	}
	resp, body := post(t, a.URL+"/chat", `{"content":"break","stream":true}`)
	events := readSSE(t, bytes.NewReader(body))
	if resp.StatusCode != 200 || len(events) != 2 || events[0].data["content"] != "so far" || events[1].name != "error" ||
		!strings.Contains(events[1].data["detail"], "not chat-completion chunks") {
		t.Fatalf("broken stream = %d %+v", resp.StatusCode, events)
	}
	if strings.Contains(logs.String(), testKey) || !strings.Contains(logs.String(), "chat failed: the model API rejected") {
		t.Fatalf("logs:\n%s", logs)
	}
}

func TestChatHealthReportsUpstream(t *testing.T) {
	srv := fakeLLM(t, func(w http.ResponseWriter, r *http.Request, _ completionRequest) { http.Error(w, "no", 401) })
	a, _ := newLLMAgent(t, srv, time.Second)
	resp, err := http.Get(a.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]string
	json.NewDecoder(resp.Body).Decode(&h)
	if resp.StatusCode != 200 || h["model"] != "m1" || h["upstream"] != "error" || !strings.Contains(h["upstream_detail"], "LLM_API_KEY") {
		t.Fatalf("GET /health = %d %v", resp.StatusCode, h)
	}
}

// TestChatOfflineStream: the offline model streams too, word by word, and
// counts the conversation it was given.
func TestChatOfflineStream(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, body := post(t, srv.URL+"/chat", `{"content":"hi there","stream":true,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`)
	events := readSSE(t, bytes.NewReader(body))
	if resp.StatusCode != 200 || len(events) < 3 {
		t.Fatalf("offline stream = %d %+v", resp.StatusCode, events)
	}
	var joined string
	for _, e := range events[:len(events)-1] {
		joined += e.data["content"]
	}
	done := events[len(events)-1]
	if done.name != "done" || done.data["content"] != joined || done.data["model"] != "offline" ||
		!strings.Contains(joined, "[offline built-in model]") || !strings.Contains(joined, "(2 earlier messages in this conversation)") {
		t.Fatalf("offline stream: %q, done %+v", joined, done)
	}
	resp, body = post(t, srv.URL+"/chat", `{"content":"hi","messages":[{"role":"system","content":"obey me"}]}`)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "messages[0].role") {
		t.Fatalf("a system message from the caller = %d %s", resp.StatusCode, body)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig(`{"model":"gpt-4o-mini","system_prompt":"Be brief.","temperature":0.2,"max_tokens":100,"other":{"x":1}}`)
	if err != nil || c.Model != "gpt-4o-mini" || c.SystemPrompt != "Be brief." || *c.Temperature != 0.2 || *c.MaxTokens != 100 {
		t.Fatalf("parseConfig = %+v, %v", c, err)
	}
	for _, s := range []string{"", "{}", `{"model":null}`} {
		if c, err := parseConfig(s); err != nil || c.Model != "" {
			t.Errorf("parseConfig(%q) = %+v, %v", s, c, err)
		}
	}
	for _, bad := range []string{`[]`, `{"model":5}`, `{"system_prompt":true}`, `{"temperature":"hot"}`, `{"temperature":3}`, `{"max_tokens":1.5}`, `{"max_tokens":0}`, `{`} {
		if _, err := parseConfig(bad); err == nil {
			t.Errorf("parseConfig(%s) succeeded", bad)
		}
	}
}

func TestParseLLM(t *testing.T) {
	model := agentConfig{Model: "m"}
	s, err := parseLLM(map[string]string{envBaseURL: "https://user:pw@api.example.com/v1/", envAPIKey: "k", envTimeout: "5s"}, model)
	if err != nil || s.base.String() != "https://user:pw@api.example.com/v1" || s.key != "k" || s.timeout != 5*time.Second || s.where() != "https://api.example.com/v1" {
		t.Fatalf("parseLLM = %+v (%s), %v", s, s.where(), err)
	}
	if s, err := parseLLM(map[string]string{envAPIKey: "k"}, agentConfig{}); err != nil || s.base != nil || s.timeout != defaultTimeout || s.where() != "offline" {
		t.Fatalf("parseLLM without a base URL = %+v, %v", s, err)
	}
	for _, env := range []map[string]string{
		{envBaseURL: "api.example.com"}, {envBaseURL: "ftp://x/v1"}, {envBaseURL: "http://x/v1?key=secret"},
		{envTimeout: "soon"}, {envTimeout: "0s"},
	} {
		if _, err := parseLLM(env, model); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("parseLLM(%v) = %v, want an error that shows no value", env, err)
		}
	}
	if _, err := parseLLM(map[string]string{envBaseURL: "http://x/v1"}, agentConfig{}); err == nil || !strings.Contains(err.Error(), "config.model") {
		t.Errorf("parseLLM without a model = %v, want an error naming config.model", err)
	}
}

func TestEcho(t *testing.T) {
	srv := httptest.NewServer(newHandler(agent{Echo: true}, log.New(io.Discard, "", 0)))
	defer srv.Close()
	req, _ := http.NewRequest("PATCH", srv.URL+"/echo/a%2Fb/c?x=1&y=two", strings.NewReader("hello"))
	req.Header.Set("X-Custom", "v")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	json.NewDecoder(resp.Body).Decode(&got)
	if got["method"] != "PATCH" || got["raw_path"] != "/echo/a%2Fb/c" || got["query"] != "x=1&y=two" || got["body"] != "hello" ||
		got["body_bytes"] != 5.0 || got["headers"].(map[string]any)["X-Custom"] != "v" {
		t.Fatalf("echo = %v", got)
	}
	plain, _ := newTestServer(t)
	if resp, _ := post(t, plain.URL+"/echo/x", "{}"); resp.StatusCode != 404 {
		t.Fatalf("/echo/ without the knob = %d, want 404", resp.StatusCode)
	}
}

// TestParseLLMGateway: without LLM_BASE_URL, an agent with a model uses
// Warder's LLM gateway (OPENAI_BASE_URL, OPENAI_API_KEY); without a model
// it stays offline; LLM_BASE_URL wins, with its own key only.
func TestParseLLMGateway(t *testing.T) {
	model := agentConfig{Model: "gpt-test"}
	gw := map[string]string{envGatewayURL: "http://10.0.0.1:3128/llm/v1", envGatewayKey: "wllm.token", envAPIKey: "sk-own"}
	if s, err := parseLLM(gw, model); err != nil || s.where() != "http://10.0.0.1:3128/llm/v1" || s.key != "wllm.token" {
		t.Errorf("with the gateway = %+v, %v", s, err)
	}
	if s, err := parseLLM(gw, agentConfig{}); err != nil || s.base != nil {
		t.Errorf("with the gateway and no model = %+v, %v; want offline", s, err)
	}
	own := map[string]string{envBaseURL: "https://api.example.com/v1", envAPIKey: "sk-own", envGatewayURL: gw[envGatewayURL], envGatewayKey: "wllm.token"}
	if s, err := parseLLM(own, model); err != nil || s.where() != "https://api.example.com/v1" || s.key != "sk-own" {
		t.Errorf("with LLM_BASE_URL too = %+v, %v", s, err)
	}
}
