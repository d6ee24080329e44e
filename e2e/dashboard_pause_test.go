package e2e

import (
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestDashboardPause: on an agent's page, Pause freezes the running agent
// (the badge says paused, Resume and Stop are offered, Start is not) and
// Resume runs it again; the list's status filter knows paused.
func TestDashboardPause(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("pausable")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")

	b.open("#/agents/"+a.ID, `button[data-action="pause"]`)
	b.click(`button[data-action="pause"]`)
	b.waitJS("the paused badge", `!!document.querySelector('[data-status="paused"]') && !!document.querySelector('button[data-action="resume"]') && !!document.querySelector('button[data-action="stop"]') && !document.querySelector('button[data-action="start"]')`)
	var got apitest.Agent
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
	if got.Status != warder.StatusPaused {
		t.Fatalf("after Pause on the page the agent is %s", got.Status)
	}
	b.click(`button[data-action="resume"]`)
	b.waitJS("the running badge", `!!document.querySelector('[data-status="running"]') && !!document.querySelector('button[data-action="pause"]')`)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
	if got.Status != warder.StatusRunning {
		t.Fatalf("after Resume on the page the agent is %s", got.Status)
	}
	b.open("#/agents", `select`)
	b.waitJS("the status filter's paused", `!!document.querySelector('select option[value="paused"]')`)
}
