package e2e

import (
	"strings"
	"testing"
)

// TestDashboardAgentDetails: the agent page says what the agent is
// (image, port, limits, environment names but never their values,
// network, egress, isolation) and its charts have axes (the scale's top
// and the time they span); the audit page names and links the agents of
// its rows, and a command run once is one row.
func TestDashboardAgentDetails(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	root := ts.register(t, "root")
	a := root.CreateWith("described", map[string]any{"memory_limit": "64m", "cpu_limit": 0.5, "env_vars": map[string]string{"GREETING": "value-never-shown"}})
	root.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	drainExec := root.Stream("POST", "/api/agents/"+a.ID+"/exec", `{"cmd": ["/warder-agent", "echo", "audited"]}`)
	drainExec.Body.Close()
	b := newBrowser(t, ts.URL)
	b.signIn("root", "password-root")

	b.open("#/agents/"+a.ID, "#agent-details")
	detail := func(key string) string { return b.text(`#agent-details dd[data-detail="` + key + `"]`) }
	for key, want := range map[string]string{"image": "warder-test/agent", "port": "8000 (host port ", "limits": "memory 64m, CPUs 0.5", "env": "GREETING", "network": "egress", "isolation": "default"} {
		if got := detail(key); !strings.Contains(got, want) {
			t.Errorf("details %s = %q, want %q in it", key, got, want)
		}
	}
	if body := b.text("body"); strings.Contains(body, "value-never-shown") {
		t.Fatal("the page shows an environment variable's value")
	}
	b.waitJS("the charts' axes", `document.querySelector('#mem-axis-max').textContent !== '' && /min ago/.test(document.querySelector('#mem-axis-span').textContent)`)

	b.open("#/admin/audit", "#audit tr")
	b.waitJS("the agent named and linked in the audit log", `[...document.querySelectorAll('#audit a[data-agent="`+a.ID+`"]')].every(l => l.textContent === 'described' && l.getAttribute('href') === '#/agents/`+a.ID+`') && document.querySelector('#audit a[data-agent="`+a.ID+`"]')`)
	rows := b.evalString(`[...document.querySelectorAll('#audit tr')].map(r => r.children[2].textContent).filter(a => a.includes('exec')).join('|')`)
	if rows != `exec ["/warder-agent","echo","audited"]` {
		t.Fatalf("the audit log's exec rows: %q", rows)
	}
}
