package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
)

// termConn is the test's side of a terminal WebSocket: what is drawn is
// gathered as it comes, the control messages apart.
type termConn struct {
	t    *testing.T
	c    *websocket.Conn
	mu   sync.Mutex
	out  strings.Builder
	msgs []warder.TerminalMessage
	done chan struct{}
}

// dialTerminal opens GET path as a WebSocket; with browser, the token
// goes as a subprotocol (as the dashboard sends it), else in
// Authorization. It returns the HTTP status of a refusal.
func dialTerminal(t *testing.T, base, path, token string, browser bool) (*termConn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := &websocket.DialOptions{Subprotocols: []string{warder.TerminalSubprotocol}, HTTPHeader: http.Header{}}
	if browser {
		o.Subprotocols = append(o.Subprotocols, warder.TerminalTokenPrefix+token)
		o.HTTPHeader.Set("Origin", base)
	} else {
		o.HTTPHeader.Set("Authorization", "Bearer "+token)
	}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+path, o)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		return nil, resp.StatusCode
	}
	if c.Subprotocol() != warder.TerminalSubprotocol {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	tc := &termConn{t: t, c: c, done: make(chan struct{})}
	go tc.read()
	t.Cleanup(func() { c.CloseNow() })
	return tc, resp.StatusCode
}

func (tc *termConn) read() {
	defer close(tc.done)
	for {
		kind, p, err := tc.c.Read(context.Background())
		if err != nil {
			return
		}
		tc.mu.Lock()
		if kind == websocket.MessageBinary {
			tc.out.Write(p)
		} else {
			var m warder.TerminalMessage
			json.Unmarshal(p, &m)
			tc.msgs = append(tc.msgs, m)
		}
		tc.mu.Unlock()
	}
}

// send types s.
func (tc *termConn) send(s string) {
	tc.t.Helper()
	if err := tc.c.Write(context.Background(), websocket.MessageBinary, []byte(s)); err != nil {
		tc.t.Fatalf("typing %q: %v", s, err)
	}
}

// control sends a control message.
func (tc *termConn) control(m warder.TerminalMessage) {
	tc.t.Helper()
	b, _ := json.Marshal(m)
	if err := tc.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		tc.t.Fatal(err)
	}
}

// waitFor waits until what was drawn holds want, and returns it all.
func (tc *termConn) waitFor(want string, within time.Duration) string {
	tc.t.Helper()
	deadline := time.Now().Add(within)
	for {
		tc.mu.Lock()
		out := tc.out.String()
		tc.mu.Unlock()
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("no %q in what the terminal drew within %s:\n%q", want, within, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// end waits for the session to end and returns its last control message.
func (tc *termConn) end(within time.Duration) warder.TerminalMessage {
	tc.t.Helper()
	select {
	case <-tc.done:
	case <-time.After(within):
		tc.t.Fatalf("the session did not end within %s", within)
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.msgs) == 0 {
		tc.t.Fatalf("the session ended with no control message; drawn:\n%q", tc.out.String())
	}
	return tc.msgs[len(tc.msgs)-1]
}

// TestTerminalWebSocket drives GET /api/agents/{id}/terminal against a
// real agent on Docker: the default image's built-in shell answers what
// is typed, a resize reaches its terminal, exit's code ends the session,
// and the session is audited once. Refused before any upgrade: a
// stopped agent (409), another user's agent (404), a read-only key
// (403), no credential (401), a plain GET (400).
func TestTerminalWebSocket(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	root := ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	a := alice.CreateAgent("term")
	path := "/api/agents/" + a.ID + "/terminal"
	if _, code := dialTerminal(t, ts.URL, path, alice.Token, false); code != http.StatusConflict {
		t.Fatalf("a terminal in a stopped agent = %d", code)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	ro, _ := alice.NewKey(map[string]any{"name": "reader", "read_only": true})
	for _, c := range []struct {
		who   string
		token string
		want  int
	}{{"bob", bob.Token, 404}, {"a read-only key", ro.Token, 403}, {"nobody", "", 401}} {
		if _, code := dialTerminal(t, ts.URL, path, c.token, false); code != c.want {
			t.Errorf("%s's terminal = %d, want %d", c.who, code, c.want)
		}
	}
	if code, raw := alice.Do("GET", path, nil); code != 400 {
		t.Errorf("a GET without an upgrade = %d %s", code, raw)
	}
	if _, code := dialTerminal(t, ts.URL, path+"?cols=0&rows=5", alice.Token, false); code != 400 {
		t.Errorf("cols=0 = %d", code)
	}

	tc, _ := dialTerminal(t, ts.URL, path+"?cols=100&rows=30", alice.Token, true)
	tc.waitFor("$ ", 20*time.Second)
	tc.send("echo hi\r")
	tc.waitFor("echo hi\r\nhi\r\n", 10*time.Second)
	tc.send("stty size\r")
	tc.waitFor("30 100\r\n", 10*time.Second)
	tc.control(warder.TerminalMessage{Type: "resize", Cols: 120, Rows: 40})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(tc.waitFor("$ ", time.Second), "40 120\r\n") {
		if time.Now().After(deadline) {
			t.Fatal("the resize never reached the terminal")
		}
		tc.send("stty size\r")
		time.Sleep(200 * time.Millisecond)
	}
	tc.send("exit 7\r")
	if m := tc.end(20 * time.Second); m.Type != "exit" || m.ExitCode == nil || *m.ExitCode != 7 || m.Reason != warder.TerminalExited {
		t.Fatalf("the session ended with %+v", m)
	}

	var audit warder.AuditResponse
	root.MustDo("GET", "/api/audit?agent="+a.ID, nil, 200, &audit)
	var sessions []string
	for _, e := range audit.Entries {
		if strings.HasPrefix(e.Action, "terminal") {
			sessions = append(sessions, e.Action+" => "+e.Result)
		}
	}
	if len(sessions) != 1 || !strings.HasPrefix(sessions[0], "terminal => exit code 7") {
		t.Fatalf("the audit's terminal sessions: %q", sessions)
	}
}

// TestTerminalBounds: a terminal holds one of its agent's exec slots
// while it lasts (an exec beyond WARDER_MAX_EXECS_PER_AGENT is a 429),
// and a session with nothing typed or drawn for
// WARDER_TERMINAL_IDLE_TIMEOUT is ended, its command killed (137,
// reason idle), and audited so.
func TestTerminalBounds(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *app.Config) { c.MaxExecsPerAgent, c.TerminalIdle = 1, 2*time.Second })
	root := ts.register(t, "root")
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("idle")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	tc, _ := dialTerminal(t, ts.URL, "/api/agents/"+a.ID+"/terminal", alice.Token, false)
	tc.waitFor("$ ", 20*time.Second)
	if code, raw := alice.Do("POST", "/api/agents/"+a.ID+"/exec", map[string]any{"cmd": []string{"/warder-agent", "echo", "x"}}); code != 429 {
		t.Fatalf("an exec beside an open terminal, with one slot = %d %s", code, raw)
	}
	if _, code := dialTerminal(t, ts.URL, "/api/agents/"+a.ID+"/terminal", alice.Token, false); code != 429 {
		t.Fatalf("a second terminal, with one slot = %d", code)
	}
	start := time.Now()
	m := tc.end(20 * time.Second)
	if m.Type != "exit" || m.ExitCode == nil || *m.ExitCode != 137 || m.Reason != warder.TerminalIdle || time.Since(start) < time.Second {
		t.Fatalf("the idle session ended with %+v after %s", m, time.Since(start))
	}
	var audit warder.AuditResponse
	root.MustDo("GET", "/api/audit?agent="+a.ID, nil, 200, &audit)
	found := false
	for _, e := range audit.Entries {
		found = found || e.Action == "terminal" && e.Result == "killed after the idle timeout"
	}
	if !found {
		t.Fatalf("no audit entry of the idle session: %+v", audit.Entries)
	}
	// The slot is free again.
	alice.MustDo("POST", "/api/agents/"+a.ID+"/exec", map[string]any{"cmd": []string{"/warder-agent", "echo", "x"}}, 200, nil)
}
