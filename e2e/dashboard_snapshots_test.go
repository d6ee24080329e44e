package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDashboardSnapshots: the Snapshots card of an agent's page on a
// real workspace: take a snapshot, change a file through the API,
// restore it (confirmed) and find the old bytes; fork now and land on
// the new agent's page with the same files; delete the snapshot
// (confirmed) and see the list empty.
func TestDashboardSnapshots(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("snappy")
	files := "/api/agents/" + a.ID + "/files/"
	c.MustDo("PUT", files+"plan.txt", "version one", 200, nil)
	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")

	b.open("#/agents/"+a.ID, `#snapshots-card`)
	b.typeInto("#snapshot-name", "first")
	b.click("#snapshot-take")
	b.waitJS("the snapshot listed", `document.querySelector('#snapshots tr[data-name="first"]')`)
	b.screenshot("snapshots")

	c.MustDo("PUT", files+"plan.txt", "version two", 200, nil)
	b.click(`#snapshots tr[data-name="first"] button[data-action="restore"]`)
	b.run("the confirmation", chromedpWaitVisible("#confirm"))
	if q := b.text("#confirm-text"); !strings.Contains(q, "first") {
		t.Fatalf("the confirmation asks %q", q)
	}
	b.click("#confirm-ok")
	dashboardWait(t, 2*time.Minute, "the file restored", func() bool {
		code, got := c.Do("GET", files+"plan.txt", nil)
		return code == 200 && string(got) == "version one"
	})

	b.typeInto("#fork-name", "snappy-fork")
	b.click("#fork-now")
	b.waitJS("the fork's page", `location.hash !== '#/agents/`+a.ID+`' && document.querySelector('#agent-page') && document.querySelector('#agent-page').dataset.agent !== '`+a.ID+`'`)
	fork := b.evalString(`document.querySelector('#agent-page').dataset.agent`)
	if code, got := c.Do("GET", "/api/agents/"+fork+"/files/plan.txt", nil); code != 200 || string(got) != "version one" {
		t.Fatalf("the fork's file = %d %q", code, got)
	}

	b.open("#/agents/"+a.ID, `#snapshots tr[data-name="first"]`)
	b.click(`#snapshots tr[data-name="first"] button[data-action="delete"]`)
	b.run("the confirmation", chromedpWaitVisible("#confirm"))
	b.click("#confirm-ok")
	b.waitJS("the list empty", `!document.querySelector('#snapshots tr[data-snapshot]')`)
}
