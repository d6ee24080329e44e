package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestExecAPI: output streams as stdout and stderr events, then the exit
// code; a command past its timeout is killed and says so; bad requests
// and stopped agents are refused before anything runs; every command is
// audited with its command line.
func TestExecAPI(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	root := s.register(t, "root")
	alice := s.register(t, "alice")
	a := alice.CreateAgent("runner")
	path := "/api/agents/" + a.ID + "/exec"
	if code, raw := alice.Do("POST", path, map[string]any{"cmd": []string{"/warder-agent", "echo", "hi"}}); code != 409 {
		t.Fatalf("exec in a stopped agent = %d %s", code, raw)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/in.txt", "from the workspace", 200, nil)

	events := drain(t, alice.Stream("POST", path, `{"cmd": ["/warder-agent", "echo", "hello"]}`).Body)
	if strings.Join(events, "|") != `stdout {"data":"hello\n"}|exit {"exit_code":0,"timed_out":false,"duration_ms":0}` &&
		!(len(events) == 2 && events[0] == `stdout {"data":"hello\n"}` && strings.HasPrefix(events[1], `exit {"exit_code":0,"timed_out":false`)) {
		t.Fatalf("echo: %q", events)
	}
	events = drain(t, alice.Stream("POST", path, `{"cmd": ["cat", "/data/in.txt"]}`).Body)
	if len(events) != 2 || events[0] != `stdout {"data":"from the workspace"}` {
		t.Fatalf("cat: %q", events)
	}
	events = drain(t, alice.Stream("POST", path, `{"cmd": ["cat"], "stdin": "piped"}`).Body)
	if len(events) != 2 || events[0] != `stdout {"data":"piped"}` {
		t.Fatalf("cat of stdin: %q", events)
	}
	events = drain(t, alice.Stream("POST", path, `{"cmd": ["nothing-here"]}`).Body)
	if len(events) != 2 || !strings.HasPrefix(events[0], "stderr ") || !strings.HasPrefix(events[1], `exit {"exit_code":127`) {
		t.Fatalf("a missing command: %q", events)
	}
	start := time.Now()
	events = drain(t, alice.Stream("POST", path, `{"cmd": ["sleep", "60"], "timeout": "200ms"}`).Body)
	if len(events) != 1 || !strings.Contains(events[0], `"timed_out":true`) || time.Since(start) > 10*time.Second {
		t.Fatalf("a timed-out command: %q after %s", events, time.Since(start))
	}
	for _, bad := range []string{`{"cmd": []}`, `{"cmd": ["x"], "timeout": "2h"}`, `{"cmd": ["x"], "env": {"1BAD": "x"}}`, `{"cmd": ["x"], "user": "root"}`} {
		if code, raw := alice.Do("POST", path, bad); code != 400 {
			t.Errorf("%s = %d %s", bad, code, raw)
		}
	}
	var audit warder.AuditResponse
	root.MustDo("GET", "/api/audit?agent="+a.ID, nil, 200, &audit)
	var actions []string
	for _, e := range audit.Entries {
		if strings.HasPrefix(e.Action, "exec ") {
			actions = append(actions, e.Action+" => "+e.Result)
		}
	}
	joined := strings.Join(actions, "\n")
	for _, want := range []string{`exec ["/warder-agent","echo","hello"] => exit code 0`, `exec ["sleep","60"] => killed at its timeout`, `exec ["nothing-here"] => exit code 127`} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %q:\n%s", want, joined)
		}
	}
}

// TestExecBounds: at most WARDER_MAX_EXECS_PER_AGENT commands run in one
// agent and WARDER_MAX_EXECS_PER_USER for one user; one more is a 429.
func TestExecBounds(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, func(c *app.Config) { c.MaxExecsPerAgent, c.MaxExecsPerUser = 1, 2 })
	alice := s.register(t, "alice")
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		ag := alice.CreateAgent(n)
		alice.MustDo("POST", "/api/agents/"+ag.ID+"/start", nil, 200, nil)
		ids = append(ids, ag.ID)
	}
	sleep := `{"cmd": ["sleep", "30"], "timeout": "30s"}`
	first := alice.Stream("POST", "/api/agents/"+ids[0]+"/exec", sleep)
	if first.StatusCode != 200 {
		t.Fatalf("first exec = %d", first.StatusCode)
	}
	code, raw := alice.Do("POST", "/api/agents/"+ids[0]+"/exec", json.RawMessage(sleep))
	if code != 429 || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_MAX_EXECS_PER_AGENT") {
		t.Fatalf("a second exec in the agent = %d %s", code, raw)
	}
	second := alice.Stream("POST", "/api/agents/"+ids[1]+"/exec", sleep)
	if second.StatusCode != 200 {
		t.Fatalf("an exec in another agent = %d", second.StatusCode)
	}
	code, raw = alice.Do("POST", "/api/agents/"+ids[2]+"/exec", json.RawMessage(sleep))
	if code != 429 || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_MAX_EXECS_PER_USER") {
		t.Fatalf("a third exec of the user = %d %s", code, raw)
	}
	// A client that leaves ends its command and frees its slot.
	first.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := alice.Stream("POST", "/api/agents/"+ids[2]+"/exec", `{"cmd": ["echo", "free"]}`)
		if resp.StatusCode == 200 {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the slot of a closed exec stream was not freed: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
