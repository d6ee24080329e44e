package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/warder/warder/internal/testkit/apitest"
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
	b.typeInto("#env", "LLM_BASE_URL="+llm.URL+"\nLLM_TIMEOUT=10s")
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

	// A crash shows, with its reason, as it happens.
	var crash apitest.Agent
	alice.MustDo("POST", "/api/agents", map[string]any{"name": "crash", "container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25,
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "200ms"}}}, 201, &crash)
	alice.MustDo("POST", "/api/agents/"+crash.ID+"/start", nil, 200, nil)
	b.waitJS("the crash and its reason", `(r => r && ['exited', 'failed'].includes(r.dataset.status) && r.querySelector('.reason').textContent.includes('exited with code 3'))(document.querySelector('tr[data-name="crash"]'))`)
	alice.MustDo("DELETE", "/api/agents/"+crash.ID, nil, 200, nil)
	b.waitJS("the deleted agent's row gone", `!document.querySelector('tr[data-name="crash"]')`)
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
	b.typeInto("#log-search", "POST")
	b.waitJS("only the matching log lines", `[...document.querySelectorAll('#logs div')].length > 0 && [...document.querySelectorAll('#logs div')].every(l => l.textContent.includes('POST'))`)
	b.typeInto("#log-search", "")

	// Reopening the first conversation shows its turns.
	b.click(`#conversations li:nth-child(2) button`)
	b.waitJS("the reopened conversation", `[...document.querySelectorAll('#messages .msg')].map(m => m.textContent).join('|').startsWith('hello|You said: hello (')`)

	// Restart from the agent page: the status goes round to running again
	// and the logs follow the new container's start.
	before := ag(t, alice, "web").StatusChangedAt
	b.click(`#agent-page button[data-action="restart"]`)
	dashboardWait(t, time.Minute, "a restart recorded", func() bool {
		a := ag(t, alice, "web")
		return a.Status == "running" && a.StatusChangedAt != nil && before != nil && a.StatusChangedAt.After(*before)
	})
	b.waitJS("running again on the page", `document.querySelector('#agent-page .status').dataset.status === 'running'`)
	b.waitJS("the new start in the logs", `document.querySelector('#logs').textContent.includes('warder-agent starting')`)

	// Edit the running agent's description: only what changed is sent.
	b.click(`a[href="#/agents/` + ag(t, alice, "web").ID + `/edit"]`)
	b.run("the edit form", chromedpWaitVisible("#agent-form"))
	b.typeInto("#description", "serves the web")
	b.click("#agent-form button[type=submit]")
	b.run("back on the agent page", chromedpWaitVisible("#agent-page"))
	if d := ag(t, alice, "web").Description; d != "serves the web" {
		t.Fatalf("description after editing = %q", d)
	}
	b.screenshot("agent")
	b.screenshotDark("agent")

	// Stop both at once, then delete one from its row.
	b.open("#/agents", `tr[data-name="web"]`)
	b.click(`tr[data-name="web"] input[type=checkbox]`)
	b.click(`tr[data-name="other"] input[type=checkbox]`)
	b.click(`button[data-bulk="stop"]`)
	b.waitJS("both rows stopped", `document.querySelector('tr[data-name="web"][data-status="stopped"]') && document.querySelector('tr[data-name="other"][data-status="stopped"]')`)
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

// TestDashboardAdmin: the first user registers through the dashboard and
// is its admin; they create an account and set its limits, disable a user
// (whose token then stops working) and enable them again; the system and
// audit pages (filtered by user) show the server's state; a token revoked
// elsewhere ends the session.
func TestDashboardAdmin(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL)
	// The first user, registered through the dashboard, is the admin.
	b.open("#/register", "#register")
	b.typeInto("#username", "root")
	b.typeInto("#email", "root@example.com")
	b.typeInto("#password", "password-root")
	b.click("#register button[type=submit]")
	b.run("signed in after registering", chromedpWaitVisible(`a[href="#/admin/users"]`))
	bob := ts.register(t, "bob")

	// An admin creates an account, and sets its limits.
	b.open("#/admin/users", `tr[data-user="bob"]`)
	b.typeInto(`#create-user [name="username"]`, "carol")
	b.typeInto(`#create-user [name="email"]`, "carol@example.com")
	b.typeInto(`#create-user [name="password"]`, "password-carol")
	b.click(`#create-user button[type=submit]`)
	b.run("carol's row", chromedpWaitVisible(`tr[data-user="carol"]`))
	carol := &apitest.Client{T: t, Base: ts.URL}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	carol.MustDo("POST", "/api/auth/login", map[string]string{"username": "carol", "password": "password-carol"}, 200, &tok)
	carol.Token = tok.AccessToken
	b.click(`tr[data-user="carol"] button[data-action="limits"]`)
	b.typeInto("#limit-running_agents", "2")
	b.click("#limits button[type=submit]")
	b.run("limits saved", chromedpWaitVisible("#limits-saved"))
	var usage struct {
		Limits struct {
			RunningAgents *int `json:"running_agents"`
		} `json:"limits"`
	}
	carol.MustDo("GET", "/api/system/limits", nil, 200, &usage)
	if usage.Limits.RunningAgents == nil || *usage.Limits.RunningAgents != 2 {
		t.Fatalf("carol's running-agents limit after setting 2: %v", usage.Limits.RunningAgents)
	}

	// Disable and enable.
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
	b.typeInto(`input[name="user"]`, "carol")
	b.click(`form.toolbar button[type=submit]`)
	b.waitJS("only carol's calls", `[...document.querySelectorAll('#audit tr')].length > 0 && [...document.querySelectorAll('#audit tr')].every(r => r.children[1].textContent === 'carol')`)
	b.typeInto(`input[name="user"]`, "")
	b.click(`form.toolbar button[type=submit]`)
	b.waitJS("everyone's again", `document.querySelector('#audit').textContent.includes('/disable')`)
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

// ag is the user's agent of that name, as the API has it now.
func ag(t *testing.T, c *apitest.Client, name string) apitest.Agent {
	t.Helper()
	var all []apitest.Agent
	c.MustDo("GET", "/api/agents", nil, 200, &all)
	for _, a := range all {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no agent %q", name)
	return apitest.Agent{}
}
