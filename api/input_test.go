package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestBadInput: every malformed request is a 4xx with a detail saying what
// is wrong, and none of them changes the agent.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	c := ts.register(t, "alice")
	a := c.CreateAgent("target")
	agent := "/api/agents/" + a.ID
	huge := `{"name": "x", "description": "` + strings.Repeat("a", 2<<20) + `"}`

	tests := []struct {
		method, path, body string
		status             int
		detail             string
	}{
		{"POST", "/api/agents", `{"name": `, 400, "not valid JSON"},
		{"POST", "/api/agents", `not json`, 400, "not valid JSON"},
		{"POST", "/api/agents", ``, 400, "empty"},
		{"POST", "/api/agents", `[1, 2]`, 400, "JSON object"},
		{"POST", "/api/agents", `{"name": "x"} {"name": "y"}`, 400, "single JSON object"},
		{"POST", "/api/agents", `{"name": "x", "colour": "red"}`, 400, `unknown field "colour"`},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"gpu": true}}`, 400, `unknown field "gpu"`},
		{"POST", "/api/agents", `{"description": "no name"}`, 400, "name is required"},
		{"POST", "/api/agents", `{"name": "   "}`, 400, "name is required"},
		{"POST", "/api/agents", `{"name": 42}`, 400, `"name" must be a string`},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"memory_limit": "lots"}}`, 400, `memory_limit "lots"`},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"memory_limit": "-1m"}}`, 400, `memory_limit "-1m"`},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"cpu_limit": -1}}`, 400, "cpu_limit"},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"cpu_limit": 100000}}`, 400, "cpu_limit"},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"cpu_limit": "lots"}}`, 400, "cpu_limit"},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"env_vars": {"NOT A NAME": "v"}}}`, 400, `"NOT A NAME" is not a valid variable name`},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"env_vars": {"AGENT_ID": "v"}}}`, 400, "AGENT_ID is set by Warder"},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"env_vars": {"X": 1}}}`, 400, "must be a string"},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"image": "no spaces allowed"}}`, 400, "image"},
		{"POST", "/api/agents", `{"name": "x", "container_config": {"port": 99999}}`, 400, "port"},
		{"POST", "/api/agents", `{"name": "x", "config": "not an object"}`, 400, `"config" must be an object`},
		{"POST", "/api/agents", `{"name": "x", "user_id": "not-a-uuid"}`, 403, "user_id"},
		{"POST", "/api/agents", huge, 413, "larger than"},
		{"POST", "/api/agents", `{"name": "target"}`, 409, `an agent named "target" already exists`},
		{"PATCH", agent, `{"container_config": {"memory_limit": "lots"}}`, 400, "memory_limit"},
		{"PATCH", agent, `{"name": ""}`, 400, "name is required"},
		{"PATCH", agent, `{"nme": "typo"}`, 400, `unknown field "nme"`},
		{"PUT", agent, `{"name": " "}`, 400, "name is required"},
		{"PUT", agent, `{"user_id": "someone-else"}`, 403, "user_id must be your own"},
		{"PUT", agent, `{"nme": "typo"}`, 400, `unknown field "nme"`},
		{"GET", "/api/agents/not-a-uuid", "", 400, "not a valid id"},
		{"GET", "/api/agents/00000000-0000-0000-0000-000000000000", "", 404, "agent not found"},
		{"POST", "/api/agents/00000000-0000-0000-0000-000000000000/start", "", 404, "agent not found"},
		{"DELETE", "/api/agents/00000000-0000-0000-0000-000000000000", "", 404, "agent not found"},
		{"GET", agent + "/logs?lines=lots", "", 400, "lines"},
		{"GET", agent + "/logs?lines=-5", "", 400, "lines"},
		{"GET", agent + "/logs?lines=1000000", "", 400, "lines"},
		{"GET", agent + "/logs", "", 409, "start it first"},
		{"GET", agent + "/stats", "", 409, "start it first"},
		{"POST", agent + "/stop", "", 409, "never been started"},
		{"GET", "/api/nowhere", "", 404, "no such endpoint"},
		{"POST", "/api/auth/register", `{"username": "x"}`, 400, "username"},
		{"POST", "/api/auth/login", `{"username": "alice"}`, 400, "required"},
		// What no account can be called, and no store can keep as text.
		{"POST", "/api/auth/login", `{"username": "al\u0000ice", "password": "x"}`, 401, "incorrect username or password"},
		{"POST", "/api/auth/login", `{"username": "` + strings.Repeat("a", 255) + `", "password": "x"}`, 401, "incorrect username or password"},
		{"POST", agent + "/chat", `{"content": "hi\u0000"}`, 400, "without NUL characters"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %.40s", tt.method, tt.path, tt.body), func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			status, raw := c.Do(tt.method, tt.path, body)
			if status != tt.status {
				t.Fatalf("status %d %s, want %d", status, raw, tt.status)
			}
			if d := apitest.DetailOf(t, raw); !strings.Contains(d, tt.detail) {
				t.Fatalf("detail %q lacks %q", d, tt.detail)
			}
		})
	}
	var got apitest.Agent
	c.MustDo("GET", agent, nil, 200, &got)
	if got.Name != "target" || got.ContainerConfig.MemoryLimit != "32m" || got.UpdatedAt != a.UpdatedAt {
		t.Fatalf("the agent changed after bad input: %+v", got)
	}
	var list []apitest.Agent
	c.MustDo("GET", "/api/agents", nil, 200, &list)
	if len(list) != 1 {
		t.Fatalf("bad input created agents: %d listed", len(list))
	}
}

// TestForbiddenContainerFields: what would weaken an agent's container
// (privileges, capabilities, host network, mounts, devices, another user,
// security options, host namespaces) cannot be asked for. (What a started
// container carries is e2e.TestHardenedContainer.)
func TestForbiddenContainerFields(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	c := ts.register(t, "root")
	for _, field := range []string{"privileged", "cap_add", "network_mode", "volumes", "devices", "user", "security_opt", "pid_mode"} {
		status, raw := c.Do("POST", "/api/agents", `{"name": "x", "container_config": {"`+field+`": true}}`)
		if status != http.StatusBadRequest || !strings.Contains(apitest.DetailOf(t, raw), `"`+field+`" is not allowed`) {
			t.Errorf("asking for %s = %d %s", field, status, raw)
		}
	}
}

// TestRequestIDs: a client's X-Request-ID is kept when it is a plain id
// (letters, digits, "._:-", at most 64), and replaced by Warder's own
// otherwise: it goes into logs and the audit log as it came.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	for sent, kept := range map[string]bool{
		"req-for-the-log_42:a.b": true,
		"3f2c9a1e-5b6d-4e7f":     true,
		"bad\xffbyte":            false,
		"with space":             false,
		"semi;colon":             false,
		strings.Repeat("a", 65):  false,
		strings.Repeat("a", 64):  true,
	} {
		req, err := http.NewRequest("GET", ts.URL+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["X-Request-Id"] = []string{sent}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-ID")
		if kept && got != sent || !kept && (got == sent || len(got) != 16) {
			t.Errorf("sent %q, answered %q (kept: %v)", sent, got, kept)
		}
	}
}

// TestStrayBytesOnPostgres: on PostgreSQL, which keeps no NUL and no
// bytes that are not UTF-8, such input is a 4xx, never a 500, and an
// audited action is audited whatever request id came with it.
func TestStrayBytesOnPostgres(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	ts := newAPIServer(t, func(c *app.Config) { c.DatabaseURL = url })
	root := ts.register(t, "root")
	a := root.CreateAgent("target")
	for _, tt := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/api/auth/login", `{"username": "ro\u0000ot", "password": "x"}`, 401},
		{"POST", "/api/auth/login", `{"username": "` + strings.Repeat("r", 5000) + `", "password": "x"}`, 401},
		{"GET", "/api/agents?name=a%00b", "", 400},
		{"GET", "/api/agents?name_prefix=%FF", "", 400},
		{"POST", "/api/agents/" + a.ID + "/chat", `{"content": "hi\u0000"}`, 400},
	} {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		if status, raw := root.Do(tt.method, tt.path, body); status != tt.status || apitest.DetailOf(t, raw) == "" {
			t.Errorf("%s %s %.40s = %d %s, want %d with a detail", tt.method, tt.path, tt.body, status, raw, tt.status)
		}
	}
	// The form login, with a byte no UTF-8 text has.
	resp, err := http.Post(ts.URL+"/api/auth/login", "application/x-www-form-urlencoded", strings.NewReader("username=%FF&password=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("form login with a stray byte = %d, want 401", resp.StatusCode)
	}
	// A delete with a request id that is not a plain id: done, and in
	// the audit log under Warder's own id.
	req, _ := http.NewRequest("DELETE", ts.URL+"/api/agents/"+a.ID, nil)
	req.Header.Set("Authorization", "Bearer "+root.Token)
	req.Header["X-Request-Id"] = []string{"id\xff"}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	var log struct{ Entries []warder.AuditEntry }
	root.MustDo("GET", "/api/audit?agent="+a.ID, nil, 200, &log)
	found := false
	for _, e := range log.Entries {
		found = found || strings.HasPrefix(e.Action, "DELETE") && e.RequestID == resp.Header.Get("X-Request-ID")
	}
	if !found {
		t.Errorf("the delete is not in the audit log under %q: %+v", resp.Header.Get("X-Request-ID"), log.Entries)
	}
}
