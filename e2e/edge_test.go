package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder/internal/testkit/apitest"
)

// TestAgentAnswersUntrusted: through the proxy to a real agent, the
// caller's Cookie does not arrive and the answer comes back sandboxed;
// and a logs since before 1970 is a 400, not Docker's error as a 500.
func TestAgentAnswersUntrusted(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	var a apitest.Agent
	c.MustDo("POST", "/api/agents", map[string]any{
		"name": "echo",
		"container_config": map[string]any{
			"memory_limit": "32m", "cpu_limit": 0.25, "env_vars": map[string]string{"WARDER_AGENT_ECHO": "1"},
		},
	}, 201, &a)

	req, _ := http.NewRequest("GET", ts.URL+"/api/agents/"+a.ID+"/proxy/echo/page", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Cookie", "warder_session=secret")
	req.Header.Set("X-Custom", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var echo struct{ Headers map[string]string }
	err = json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("echo = %d (%v)", resp.StatusCode, err)
	}
	if _, ok := echo.Headers["Cookie"]; ok || echo.Headers["X-Custom"] != "kept" {
		t.Fatalf("headers the agent got: %v", echo.Headers)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("the agent's answer is not sandboxed: %v", resp.Header)
	}

	logs := "/api/agents/" + a.ID + "/logs"
	for _, q := range []string{"?since=500000h", "?since=1969-12-31T23:59:59Z", "?since=99999999999999"} {
		status, raw := c.Do("GET", logs+q, nil)
		if status != 400 || !strings.Contains(apitest.DetailOf(t, raw), "must be between 1970") {
			t.Errorf("GET logs%s = %d %s", q, status, raw)
		}
	}
	c.MustDo("GET", logs+"?since=0", nil, 200, nil)
}
