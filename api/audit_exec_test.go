package api_test

import (
	"strings"
	"testing"

	"github.com/warder/warder"
)

// TestExecAuditedOnce: a command that ran is one audit entry, the
// service's, with its command line and exit code (not also the route's);
// one refused before it ran (a stopped agent) is the route's one entry.
func TestExecAuditedOnce(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	root := s.register(t, "root")
	a := root.CreateAgent("audited")
	path := "/api/agents/" + a.ID + "/exec"
	if code, raw := root.Do("POST", path, map[string]any{"cmd": []string{"/warder-agent", "echo", "hi"}}); code != 409 {
		t.Fatalf("exec in a stopped agent = %d %s", code, raw)
	}
	root.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	drain(t, root.Stream("POST", path, `{"cmd": ["/warder-agent", "echo", "hi"]}`).Body)
	var audit warder.AuditResponse
	root.MustDo("GET", "/api/audit?agent="+a.ID, nil, 200, &audit)
	var execs []string
	for _, e := range audit.Entries {
		if strings.Contains(e.Action, "exec") {
			execs = append(execs, e.Action+" => "+e.Result)
		}
	}
	if len(execs) != 2 || execs[0] != `exec ["/warder-agent","echo","hi"] => exit code 0` || !strings.HasPrefix(execs[1], "POST /api/agents/{id}/exec => ") {
		t.Fatalf("the exec entries, newest first: %q", execs)
	}
}
