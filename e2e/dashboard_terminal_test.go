package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// termText reads what the dashboard's terminal shows (xterm.js draws on
// a canvas: its selection API gives the text).
const termText = `(t => { if (!t) return ''; t.selectAll(); const s = t.getSelection(); t.clearSelection(); return s; })(document.querySelector('#terminal').xterm)`

// enter presses Enter as a keyboard does for a terminal: a key down with
// no text of its own (chromedp's "\r" comes with a character event too,
// and xterm.js sends both).
var enter = chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13}); err != nil {
			return err
		}
	}
	return nil
})

// TestDashboardTerminal: the Terminal panel of a running agent's page
// opens the default image's own shell over the terminal WebSocket (the
// token as a subprotocol), runs what is typed into it and shows the
// output, and says how the shell ended; a stopped agent's panel cannot
// be opened, and says why.
func TestDashboardTerminal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("shell")
	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")

	b.open("#/agents/"+a.ID, "#terminal-open")
	b.waitJS("the panel closed while the agent is stopped", `document.querySelector('#terminal-open').disabled && /Start the agent/.test(document.querySelector('#terminal-open').title)`)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	b.waitJS("the panel ready once the agent runs", `!document.querySelector('#terminal-open').disabled`)
	b.click("#terminal-open")
	b.waitJS("the shell's prompt", `document.querySelector('#terminal').dataset.state === 'open' && `+termText+`.includes('/ $')`)
	b.run("typing a command", chromedp.SendKeys(chromedp.CSS("#terminal .xterm-helper-textarea"), `X=dashboard; echo "hello from the $X"`, chromedp.NodeReady), enter)
	b.waitJS("the command's output", termText+`.includes('\nhello from the dashboard')`)
	time.Sleep(200 * time.Millisecond) // the cursor's blink drawn, for the picture
	b.screenshot("terminal")
	b.run("typing exit", chromedp.SendKeys(chromedp.CSS("#terminal .xterm-helper-textarea"), "exit 4", chromedp.NodeReady), enter)
	b.waitJS("the shell's end", `document.querySelector('#terminal-note').textContent === 'The shell exited with code 4.' && !document.querySelector('#terminal-open').hidden`)
	if got := b.evalString(termText); !strings.Contains(got, "hello from the dashboard") {
		t.Fatalf("the terminal after exit:\n%s", got)
	}
}
