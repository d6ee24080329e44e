package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// The dashboard where people need it most: an agent that failed, a phone,
// a runtime that is down, an empty or mistyped page.

// ended is a WaitStatus check: the agent's process has ended, with a code.
func ended(a apitest.Agent) bool {
	return (a.Status == "exited" || a.Status == "failed") && a.ExitCode != nil
}

// TestDashboardFailedAgentLogs: the page of an agent that is not running
// shows the last lines its container wrote (a crash's own last words, a
// stopped agent's start), saying they are a tail; one that never ran says
// so; a clean exit 0 is not drawn as a failure.
func TestDashboardFailedAgentLogs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "alice")
	crash := c.CreateWith("crash", map[string]any{"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	clean := c.CreateWith("clean", map[string]any{"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "0", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	stopped := c.CreateAgent("stopped")
	fresh := c.CreateAgent("fresh")
	for _, a := range []apitest.Agent{crash, clean, stopped} {
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	}
	c.WaitStatus(crash.ID, time.Minute, ended)
	if a := c.WaitStatus(clean.ID, time.Minute, ended); *a.ExitCode != 0 {
		t.Fatalf("the clean agent ended with %d", *a.ExitCode)
	}
	c.WaitStatus(stopped.ID, time.Minute, apitest.Is("running"))
	c.WaitLogs(stopped.ID, "warder-agent starting", time.Minute)
	c.MustDo("POST", "/api/agents/"+stopped.ID+"/stop", nil, 200, nil)
	c.WaitStatus(stopped.ID, time.Minute, apitest.Is("stopped"))

	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")
	b.open("#/agents/"+crash.ID, "#agent-page")
	b.waitJS("the crash's last lines", `(l => l.includes('warder-agent starting') && l.includes('warder-agent exiting with code 3'))(document.querySelector('#logs').textContent)`)
	b.waitJS("the note that they are a tail", `/last 200 lines.*not running.*exit code 3/.test(document.querySelector('#logs-note').textContent)`)
	b.screenshot("agent-failed")
	b.screenshotDark("agent-failed")

	b.open("#/agents/"+stopped.ID, "#agent-page")
	b.waitJS("a stopped agent's last lines", `document.querySelector('#logs').textContent.includes('warder-agent starting')`)
	b.open("#/agents/"+fresh.ID, "#agent-page")
	b.waitJS("an agent that never ran says so", `document.querySelector('#logs').textContent.includes('has not run yet')`)

	// Exit 0 is an end, not a failure: not in the failure's colour.
	b.open("#/agents", `tr[data-name="clean"]`)
	b.waitJS("both ends listed", `document.querySelector('tr[data-name="crash"] .status') && document.querySelector('tr[data-name="clean"] .status')`)
	if got := b.evalString(`(s => s.textContent + ' ' + s.classList.contains('clean'))(document.querySelector('tr[data-name="clean"] .status'))`); got != "exited (0) true" {
		t.Fatalf("the clean exit's badge: %q", got)
	}
	colour := func(name string) string {
		return b.evalString(`getComputedStyle(document.querySelector('tr[data-name="` + name + `"] .status')).color`)
	}
	if colour("clean") == colour("crash") {
		t.Fatalf("a clean exit is drawn as the crash is (%s)", colour("crash"))
	}
}

// TestDashboardPhoneWidth: at 390 px nothing on any page reaches past the
// screen or scrolls sideways in a box (overflowJS), and the agents list
// shows each agent's image, port and actions on screen.
func TestDashboardPhoneWidth(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	root := ts.register(t, "root")
	crash := root.CreateWith("a-rather-long-agent-name-that-a-phone-must-wrap", map[string]any{
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	web := root.CreateAgent("web")
	for _, a := range []apitest.Agent{crash, web} {
		root.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	}
	c := root
	c.WaitStatus(crash.ID, time.Minute, ended)
	c.WaitStatus(web.ID, time.Minute, apitest.Is("running"))

	b := newBrowser(t, ts.URL)
	b.run("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	check := func(page string) {
		t.Helper()
		b.run("drawing "+page, chromedp.Sleep(300*time.Millisecond))
		if wide := b.overflow(390); wide != "" {
			t.Errorf("%s at 390 px: %s", page, wide)
		}
	}
	b.open("#/login", "#login")
	check("sign-in")
	b.open("#/register", "#register")
	check("registration")
	b.signIn("root", "password-root")
	b.waitJS("both agents listed", `document.querySelectorAll('#agents tbody tr').length === 2`)
	check("agents")
	// Image, port and actions are on screen in the web agent's row.
	if got := b.evalString(`(r => [...r.querySelectorAll('td')].filter(td => /^(Image|Port)$/.test(td.dataset.label) || td.classList.contains('actions'))
		.map(td => { const x = td.getBoundingClientRect(); return td.textContent.length > 0 && x.width > 0 && x.left >= 0 && x.right <= 390 ? 'on' : 'off:' + (td.dataset.label || 'actions') }).join(' '))(document.querySelector('tr[data-name="web"]'))`); got != "on on on" {
		t.Errorf("the web agent's image, port and actions at 390 px: %q", got)
	}
	b.open("#/agents/new", "#agent-form")
	check("new agent")
	b.open("#/agents/"+web.ID+"/edit", "#agent-form")
	check("edit agent")
	b.open("#/agents/"+web.ID, "#agent-page")
	b.waitJS("the running agent's logs and history", `document.querySelector('#logs').textContent.includes('warder-agent starting') && document.querySelectorAll('#history tr').length >= 2`)
	check("running agent")
	b.open("#/agents/"+crash.ID, "#agent-page")
	b.waitJS("the failed agent's logs and history", `document.querySelector('#logs').textContent.includes('exiting with code 3') && document.querySelectorAll('#history tr').length >= 3`)
	check("failed agent")
	b.open("#/agents/no-such-agent", "#not-found")
	check("unknown agent")
	b.open("#/nowhere", "#no-page")
	check("unknown page")
	b.open("#/admin/users", "#users")
	check("users")
	b.open("#/admin/status", "#system")
	check("system")
	b.open("#/admin/audit", "#audit tr")
	check("audit")
}

// TestDashboardRuntimeUnavailable: with no Docker engine, every page has
// a banner saying agents cannot run; start buttons are disabled and say
// why; files and chat say it in words, never the engine's error (which is
// folded in the banner, for the operator); the status history has its
// reasons.
func TestDashboardRuntimeUnavailable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *app.Config) { c.DockerHost = "unix:///nonexistent/docker.sock" })
	c := ts.register(t, "root")
	a := c.CreateAgent("offline")
	b := newBrowser(t, ts.URL)
	b.signIn("root", "password-root")

	b.waitJS("the banner", `!document.querySelector('#banner').hidden && document.querySelector('#banner').textContent.includes('cannot reach its container runtime')`)
	b.waitJS("the row's start disabled, saying why", `(s => s && s.disabled && s.title.includes('unavailable'))(document.querySelector('tr[data-name="offline"] button[data-action="start"]'))`)
	b.click(`tr[data-name="offline"] input[type=checkbox]`)
	b.waitJS("the bulk start disabled, saying why", `(s => s.disabled && s.title.includes('unavailable'))(document.querySelector('button[data-bulk="start"]')) && !document.querySelector('button[data-bulk="delete"]').disabled`)
	b.screenshot("runtime-unavailable")

	b.open("#/agents/"+a.ID, "#agent-page")
	b.waitJS("the page's start disabled, saying why", `(s => s && s.disabled && s.title.includes('unavailable'))(document.querySelector('#agent-page button[data-action="start"]'))`)
	b.waitJS("the files' error in words", `document.querySelector('#files-error').textContent.includes('cannot reach its container runtime')`)
	b.typeInto("#chat-input", "hello")
	b.click("#chat-send")
	b.waitJS("the chat's error", `document.querySelector('#messages + .error').textContent !== ''`)
	b.waitJS("the status history with its reason", `(h => h.textContent.includes('created') && !h.querySelector('.error'))(document.querySelector('#history'))`)
	for _, raw := range []string{"docker.sock", "Cannot connect", "daemon", "dial unix"} {
		if b.evalString(`String(document.body.innerText.includes(`+jsQuote(raw)+`))`) != "false" {
			t.Errorf("the agent page shows the engine's error (%q): %s", raw, b.text("main"))
		}
	}
	if got := b.evalString(`document.querySelector('#banner details code')?.textContent || ''`); !strings.Contains(got, "Docker is unavailable") {
		t.Errorf("the banner's folded details: %q", got)
	}
}

// TestDashboardEmptyStates: a user with no agents is told what to do; the
// bulk buttons are disabled until something is selected; an unknown
// agent's page (and its edit page) says so with a way back; times read as
// people say them.
func TestDashboardEmptyStates(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")

	b.waitJS("the empty list's help", `(e => e && !e.hidden && e.textContent.includes('New agent') && e.querySelector('a[href="#/agents/new"]'))(document.querySelector('#agents-empty'))`)
	b.screenshot("agents-empty")
	b.waitJS("bulk buttons disabled with nothing selected", `[...document.querySelectorAll('button[data-bulk]')].every(b => b.disabled)`)

	a := alice.CreateAgent("first")
	b.run("reloading: a creation is not a status event", chromedp.Reload(), chromedpWaitVisible(`tr[data-name="first"]`))
	b.waitJS("the new agent listed, the help gone", `document.querySelector('tr[data-name="first"]') && document.querySelector('#agents-empty').hidden`)
	b.waitJS("still disabled", `[...document.querySelectorAll('button[data-bulk]')].every(b => b.disabled)`)
	b.click(`tr[data-name="first"] input[type=checkbox]`)
	b.waitJS("enabled once selected", `[...document.querySelectorAll('button[data-bulk]')].every(b => !b.disabled) && document.querySelector('#selected-count').textContent.startsWith('1 selected')`)
	b.click(`tr[data-name="first"] input[type=checkbox]`)
	b.waitJS("disabled again", `[...document.querySelectorAll('button[data-bulk]')].every(b => b.disabled)`)

	// Human times: the status history says "… ago", the date in its title.
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	b.open("#/agents/"+a.ID, "#agent-page")
	b.waitJS("a human time in the history", `(t => t && /ago|now/.test(t.textContent) && t.title && t.getAttribute('datetime'))(document.querySelector('#history time'))`)

	for _, page := range []string{"#/agents/no-such-agent", "#/agents/no-such-agent/edit"} {
		b.open(page, "#not-found")
		// Waited for, not read once: the previous page's #not-found may
		// be the node found, replaced a moment later.
		b.waitJS(page+" says there is no such agent", `(n => n && n.textContent.includes('No such agent') && n.textContent.includes('no-such-agent'))(document.querySelector('#not-found'))`)
	}
	b.click(`#not-found a[href="#/agents"]`)
	b.run("back on the list", chromedpWaitVisible(`tr[data-name="first"]`))
}
