package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/testkit/openapitest"
)

// checked returns an HTTP client whose every answer from ts is checked
// against ts's own OpenAPI document; the test fails on any mismatch.
func checked(t *testing.T, ts *testServer) *http.Client {
	t.Helper()
	doc, err := client.New(ts.URL, "").OpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, err := openapitest.Load(doc)
	if err != nil {
		t.Fatal(err)
	}
	tr := &openapitest.Transport{Doc: d}
	t.Cleanup(func() {
		for _, p := range tr.Problems() {
			t.Errorf("an answer does not fit the OpenAPI document: %s", p)
		}
	})
	return &http.Client{Transport: tr}
}

// TestOriginalClientFlow is the original Warder's documented client flow,
// as its Python clients send it (a FastAPI OAuth2 form login, then JSON
// with a bearer token), on real Docker: register with first and last
// name, log in with the form, GET /api/users/me, create the seed's agent
// with container_config.auto_start, then stop, start, logs, stats and
// delete. Every answer is checked against the OpenAPI document.
func TestOriginalClientFlow(t *testing.T) {
	ts := newTestServer(t, nil)
	hc := checked(t, ts)
	ctx := context.Background()
	token := ""
	call := func(method, path, ctype string, body []byte, want int, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, want)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, raw)
			}
		}
	}
	asJSON := func(v any) []byte { b, _ := json.Marshal(v); return b }

	ts.register(t, "root") // the first user is the admin; the original's flow is a plain user's
	var user map[string]any
	call("POST", "/api/auth/register", "application/json", asJSON(map[string]string{
		"username": "alice", "email": "alice@example.com", "password": "correct horse",
		"first_name": "Alice", "last_name": "Liddell"}), 201, &user)

	var tok map[string]any
	form := url.Values{"username": {"alice"}, "password": {"correct horse"}, "grant_type": {"password"}}
	call("POST", "/api/auth/login", "application/x-www-form-urlencoded", []byte(form.Encode()), 200, &tok)
	if tok["token_type"] != "bearer" || tok["access_token"] == "" {
		t.Fatalf("form login: %v", tok)
	}
	token = tok["access_token"].(string)

	var me map[string]any
	call("GET", "/api/users/me", "", nil, 200, &me)
	if me["username"] != "alice" || me["id"] != user["id"] || me["first_name"] != "Alice" || me["last_name"] != "Liddell" {
		t.Fatalf("/api/users/me: %v", me)
	}

	var a struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		HostPort *int   `json:"host_port"`
		Cid      string `json:"container_id"`
	}
	call("POST", "/api/agents/", "application/json", []byte(fmt.Sprintf(`{
	  "name": "Test Container Agent", "description": "Agent for testing container management",
	  "type": "chat", "user_id": %q, "config": {"model": "gpt-3.5-turbo"},
	  "container_config": {"image": %q, "memory_limit": "512m", "cpu_limit": 0.5,
	    "env_vars": {"TEST_VAR": "test_value"}, "auto_start": true}}`, user["id"], ts.Config.Image)), 201, &a)
	if a.Status != "running" || a.HostPort == nil || a.Cid == "" {
		t.Fatalf("created with auto_start: %+v", a)
	}
	if st, err := ts.App.Runtime().Inspect(ctx, a.Cid); err != nil || !st.Running() {
		t.Fatalf("the container after create: %+v %v", st, err)
	}

	var msg map[string]string
	call("POST", "/api/agents/"+a.ID+"/stop", "", nil, 200, &msg)
	if msg["message"] != "Agent container stopped successfully" {
		t.Fatalf("stop: %v", msg)
	}
	call("POST", "/api/agents/"+a.ID+"/start", "", nil, 200, &msg)
	if msg["message"] != "Agent container started successfully" {
		t.Fatalf("start: %v", msg)
	}
	var logs map[string]string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs["logs"], "warder-agent"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q", logs["logs"])
		}
		call("GET", "/api/agents/"+a.ID+"/logs?lines=100", "", nil, 200, &logs)
	}
	var stats struct {
		Stats map[string]any `json:"stats"`
	}
	call("GET", "/api/agents/"+a.ID+"/stats", "", nil, 200, &stats)
	if !strings.HasSuffix(fmt.Sprint(stats.Stats["cpu_usage"]), "%") || !strings.HasSuffix(fmt.Sprint(stats.Stats["memory_usage"]), "B") {
		t.Fatalf("stats: %v", stats.Stats)
	}
	call("POST", "/api/agents/"+a.ID+"/stop", "", nil, 200, &msg)
	call("DELETE", "/api/agents/"+a.ID, "", nil, 200, &msg)
	call("GET", "/api/agents/"+a.ID, "", nil, 404, nil)
	if _, err := ts.App.Runtime().Inspect(ctx, a.Cid); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("the container after delete: %v", err)
	}
}
