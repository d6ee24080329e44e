package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/warder/warder/internal/apitest"
)

// TestDashboardAgentFlow drives the dashboard in headless Chromium against
// a real Warder on Docker, as a user would: sign in, create an agent (a
// validation error shown beside its field, then fixed), start it and see
// its row turn running, see a change made elsewhere arrive from
// /api/events without a reload, open it and see logs arrive and the CPU
// chart draw, chat with the answer streamed, stop and delete it. A
// non-admin sees no admin pages.
func TestDashboardAgentFlow(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	llm := newFakeLLM(t, ts)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	b := newBrowser(t, ts.URL)

	b.open("", "#login")
	b.screenshot("login")
	// Signing in with the keyboard alone: focus, type, Tab, type, Enter.
	b.eval(`document.querySelector('#username').focus()`)
	b.key("alice")
	b.key(kb.Tab)
	b.key("password-alice")
	b.key(kb.Enter)
	b.run("signed in by keyboard", chromedpWaitVisible("#agents"))
	if got := b.evalString(`String(document.querySelector('a[href="#/admin/users"]'))`); got != "null" {
		t.Fatalf("a non-admin sees a link to the admin pages: %s", got)
	}
	b.open("#/admin/users", "#forbidden")

	// Create, with a memory limit the server refuses, then fixed.
	b.open("#/agents/new", "#agent-form")
	b.waitJS("the allowed images offered", `[...document.querySelectorAll('#allowed-images option')].some(o => o.value === `+jsQuote(ts.Config.Image)+`)`)
	b.typeInto("#name", "web")
	b.typeInto("#memory", "lots")
	b.typeInto("#cpu", "0.25")
	b.typeInto("#model", "fake-model")
	b.typeInto("#env", "LLM_BASE_URL="+llm.URL+"\nLLM_TIMEOUT=1s")
	b.typeInto("#secrets", "LLM_API_KEY="+testLLMKey)
	b.click("#agent-form button[type=submit]")
	b.waitJS("the memory error beside its field", `document.querySelector('#memory-error').textContent.includes('memory_limit')`)
	if form := b.text("#form-error"); form != "" {
		t.Fatalf("the error is shown for the whole form too: %q", form)
	}
	b.screenshot("create-error")
	b.typeInto("#memory", "32m")
	b.click("#agent-form button[type=submit]")
	b.waitJS("the new agent's row", `document.querySelector('tr[data-name="web"][data-status="stopped"], tr[data-name="web"][data-status="created"]')`)

	// Start from the row.
	b.click(`tr[data-name="web"] button[data-action="start"]`)
	b.waitJS("the row running", `document.querySelector('tr[data-name="web"][data-status="running"]')`)

	// A change made elsewhere arrives from /api/events.
	var other apitest.Agent
	alice.MustDo("POST", "/api/agents", map[string]any{"name": "other", "container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}}, 201, &other)
	alice.MustDo("POST", "/api/agents/"+other.ID+"/start", nil, 200, nil)
	b.waitJS("the other agent's row, running, without a reload", `document.querySelector('tr[data-name="other"][data-status="running"]')`)
	b.screenshot("agents")
	b.screenshotDark("agents")
	if bg := b.evalString(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(247, 247, 248)" {
		t.Fatalf("back in the light scheme the page is %s", bg)
	}

	// Filtering by text and by status hides the other rows.
	b.typeInto("#filter", "oth")
	b.waitJS("only other shown", `document.querySelector('tr[data-name="web"]').hidden && !document.querySelector('tr[data-name="other"]').hidden`)
	b.typeInto("#filter", "")
	b.run("filtering by status", chromedp.SetValue(chromedp.CSS("#status-filter"), "stopped"))
	b.eval(`document.querySelector('#status-filter').dispatchEvent(new Event('change'))`)
	b.waitJS("no running row shown", `[...document.querySelectorAll('#agents tbody tr')].every(r => r.hidden)`)
	b.run("any status", chromedp.SetValue(chromedp.CSS("#status-filter"), ""))
	b.eval(`document.querySelector('#status-filter').dispatchEvent(new Event('change'))`)

	// The agent's page: logs, chart, chat.
	b.click(`tr[data-name="web"] a`)
	b.run("the agent page", chromedpWaitVisible("#agent-page"))
	b.waitJS("logs arriving", `document.querySelector('#logs').textContent.includes('warder-agent starting')`)
	b.waitJS("the CPU chart drawing points", `(document.querySelector('#cpu-line').getAttribute('points') || '').trim().split(' ').length >= 3`)
	b.waitJS("the memory and network charts too", `['#mem-line', '#net-line'].every(s => (document.querySelector(s).getAttribute('points') || '').trim().split(' ').length >= 3)`)
	b.typeInto("#chat-input", "hello")
	b.click("#chat-send")
	b.waitJS("the answer", `[...document.querySelectorAll('#messages .msg[data-role="assistant"]')].some(m => m.dataset.done && m.textContent.startsWith('You said: hello ('))`)
	b.waitJS("the chat's request in the live logs", `document.querySelector('#logs').textContent.includes('POST "/chat"') || document.querySelector('#logs').textContent.includes('POST /chat')`)

	// Streamed: the first piece shows before the model sends the rest.
	b.typeInto("#chat-input", "gated")
	b.click("#chat-send")
	b.waitJS("the first piece, alone", `[...document.querySelectorAll('#messages .msg[data-role="assistant"]')].some(m => !m.dataset.done && m.textContent === 'first ')`)
	llm.Release()
	b.waitJS("the whole answer", `[...document.querySelectorAll('#messages .msg[data-role="assistant"]')].some(m => m.dataset.done && m.textContent === 'first second')`)
	b.waitJS("the status history", `document.querySelector('#history').textContent.includes('running')`)
	b.screenshot("agent")
	b.screenshotDark("agent")

	// Stop and delete from the list.
	b.open("#/agents", `tr[data-name="web"]`)
	b.click(`tr[data-name="web"] button[data-action="stop"]`)
	b.waitJS("the row stopped", `document.querySelector('tr[data-name="web"][data-status="stopped"]')`)
	b.click(`tr[data-name="web"] button[data-action="delete"]`)
	b.run("the confirmation", chromedpWaitVisible("#confirm"))
	b.click("#confirm-ok")
	b.waitJS("the row gone", `!document.querySelector('tr[data-name="web"]')`)
	var left []apitest.Agent
	alice.MustDo("GET", "/api/agents", nil, 200, &left)
	if len(left) != 1 || left[0].ID != other.ID {
		t.Fatalf("after deleting web, alice has %+v", left)
	}

	b.click("#signout")
	b.run("signed out", chromedpWaitVisible("#login"))
	if tok := b.evalString(`String(localStorage.getItem('warder.token'))`); tok != "null" {
		t.Fatalf("the token is kept after signing out: %s", tok)
	}
}

// TestDashboardAdmin: an admin disables a user from the users page (whose
// token then stops working) and enables them again; the system and audit
// pages show the server's state.
func TestDashboardAdmin(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ts.register(t, "root")
	bob := ts.register(t, "bob")
	b := newBrowser(t, ts.URL)
	b.signIn("root", "password-root")
	b.open("#/admin/users", `tr[data-user="bob"]`)
	b.click(`tr[data-user="bob"] button[data-action="disable"]`)
	b.waitJS("bob disabled", `document.querySelector('tr[data-user="bob"] .state').textContent === 'disabled'`)
	if status, _ := bob.Do("GET", "/api/auth/me", nil); status != 401 {
		t.Fatalf("a disabled user's token: GET /api/auth/me = %d", status)
	}
	b.screenshot("users")
	b.click(`tr[data-user="bob"] button[data-action="enable"]`)
	b.waitJS("bob enabled", `document.querySelector('tr[data-user="bob"] .state').textContent === 'active'`)

	b.open("#/admin/status", "#system")
	if s := b.text("#system"); !strings.Contains(s, "database") {
		t.Fatalf("system status page: %q", s)
	}
	b.screenshot("system")
	b.open("#/admin/audit", "#audit tr")
	b.waitJS("the disable in the audit log", `document.querySelector('#audit').textContent.includes('/disable')`)
	b.screenshot("audit")

	// A token revoked elsewhere ends the session: the events stream ends,
	// its reconnection is refused, and the sign-in form is back.
	b.open("#/agents", "#agents")
	revoke := &apitest.Client{T: t, Base: ts.URL, Token: b.evalString(`localStorage.getItem('warder.token')`)}
	if status, raw := revoke.Do("POST", "/api/auth/logout", nil); status >= 300 {
		t.Fatalf("logout = %d %s", status, raw)
	}
	b.waitJS("the sign-in form", `document.querySelector('#login') && !localStorage.getItem('warder.token')`)
}

// TestDashboardTokenOutOfAgentsReach: the dashboard keeps its token in
// localStorage of Warder's origin, and the proxy serves agents' pages
// from that same origin, so a hostile page on the proxy must not read it.
// The agent's probe page tries (its script reports what it read in the
// title); served directly from the agent's own port the script runs, so
// the probe works; through the proxy (CSP sandbox) it must not run.
func TestDashboardTokenOutOfAgentsReach(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	b := newBrowser(t, ts.URL)
	b.signIn("root", "password-root")
	token := b.evalString(`localStorage.getItem('warder.token')`)
	if len(token) < 20 {
		t.Fatalf("the dashboard keeps no token where expected: %q", token)
	}

	var a apitest.Agent
	c.MustDo("POST", "/api/agents", map[string]any{"name": "hostile",
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25, "env_vars": map[string]string{"WARDER_AGENT_ECHO": "1"}}}, 201, &a)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.HostPort == nil {
		t.Fatalf("started agent has no host port: %+v", a)
	}

	// The control: on its own origin the probe's script runs.
	direct := "http://127.0.0.1:" + itoa(*a.HostPort) + "/echo/probe.html"
	dashboardWait(t, 10*time.Second, "the agent serving", func() bool {
		resp, err := http.Get(direct)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	b.run("the probe on the agent's own port", chromedpNavigate(direct))
	b.waitJS("the probe's script running", `document.title.startsWith('probe ran: ')`)

	// Through the proxy, on Warder's origin, as a signed-in browser asks.
	b.setHeader("Authorization", "Bearer "+token)
	b.run("the probe through the proxy", chromedpNavigate(ts.URL+"/api/agents/"+a.ID+"/proxy/echo/probe.html"), chromedpWaitVisible("p"))
	title := b.evalString(`document.title`)
	if title != "probe: no script ran" || strings.Contains(title, token) {
		t.Fatalf("a page an agent serves through the proxy ran its script: title %q", title)
	}
}
