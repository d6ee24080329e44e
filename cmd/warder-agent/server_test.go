package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	a := agent{ID: "a1", Name: "Ada", Type: "echo"}
	srv := httptest.NewServer(newHandler(a, log.New(&logs, "", 0)))
	t.Cleanup(srv.Close)
	return srv, &logs
}

func TestHealth(t *testing.T) {
	srv, logs := newTestServer(t)
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"status": "ok", "agent_id": "a1", "agent_name": "Ada", "agent_type": "echo", "model": "offline", "upstream": "offline"}
	if resp.StatusCode != 200 || len(got) != len(want) {
		t.Fatalf("GET /health = %d %v, want 200 %v", resp.StatusCode, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// A health check that passed writes no line (Warder asks every 10 to
	// 30 s); any other request writes one.
	if strings.Contains(logs.String(), "/health") {
		t.Errorf("a passed health check was logged: %q", logs.String())
	}
	resp, err = http.Get(srv.URL + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), "GET /nothing-here 404 ") {
		t.Errorf("request log %q lacks method, path and status", logs.String())
	}
}

func TestChat(t *testing.T) {
	srv, _ := newTestServer(t)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantIn     string // in content for 200, in detail otherwise
	}{
		{"user message", `{"content":"hello there","role":"user"}`, 200, `You said: "hello there"`},
		{"role omitted", `{"content":"hi"}`, 200, "offline built-in model"},
		{"unknown field ignored", `{"content":"hi","conversation_id":"c1"}`, 200, `"hi"`},
		{"bad JSON", `{"content":`, 400, "not valid JSON"},
		{"wrong type", `{"content":5}`, 400, "not valid JSON"},
		{"empty content", `{"content":"  "}`, 400, "content is required"},
		{"other role", `{"content":"hi","role":"system"}`, 400, "role"},
		{"too large", `{"content":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/chat", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q is not a JSON object: %v", body, err)
			}
			field := "detail"
			if tt.wantStatus == 200 {
				field = "content"
				if got["role"] != "assistant" {
					t.Errorf("role = %q, want assistant", got["role"])
				}
			}
			if !strings.Contains(got[field], tt.wantIn) {
				t.Errorf("%s = %q, want it to contain %q", field, got[field], tt.wantIn)
			}
		})
	}
}

func TestChatIsDeterministic(t *testing.T) {
	m := offlineModel{agentName: "Ada"}
	msgs := []message{{Role: "user", Content: "x"}}
	if m.reply(msgs) != m.reply(msgs) {
		t.Fatal("reply differs between two calls with the same input")
	}
}

func TestExtraEnvNames(t *testing.T) {
	env := parseEnv([]string{"AGENT_ID=a1", "PORT=8000", "PATH=/bin", "HOSTNAME=h", "HOME=/",
		"TEST_VAR=secret-value", "OTHER=x=y", "A_FIRST="})
	got := extraEnvNames(env)
	want := []string{"A_FIRST", "OTHER", "TEST_VAR"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("extraEnvNames = %v, want %v", got, want)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "": `""`, "a b": `"a b"`, "x\ny": `"x\ny"`} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
