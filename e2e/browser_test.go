package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/warder/warder/internal/testkit/testenv"
)

// screenshotDir is where the dashboard tests leave screenshots of the main
// pages, at desktop and phone widths, for a reviewer (see the README).
const screenshotDir = "../docs/screenshots"

// browser is a headless Chromium tab on a test server's dashboard.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newBrowser starts Chromium (a fresh profile, closed when the test ends)
// with one tab, at desktop size.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	// The first run starts the browser, on a context without a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return b
}

// stepTimeout bounds each step: generous, since a loaded machine (tests
// in parallel, a benchmark) can take seconds for a stats sample.
const stepTimeout = time.Minute

// run does actions, failing the test after stepTimeout or on an error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.text("body"))
	}
}

// text is the text of the first element sel (CSS) matches, or an error's text.
func (b *browser) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// waitJS waits until the JavaScript expression is truthy.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v\npage: %s", what, expr, err, b.text("body"))
	}
}

// evalString evaluates a JavaScript expression whose value is a string.
func (b *browser) evalString(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

// open goes to a page of the dashboard ("#/agents") and waits for sel.
func (b *browser) open(hash, sel string) {
	b.t.Helper()
	b.run("opening "+hash, chromedp.Navigate(b.base+"/"+hash), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// click clicks the first element sel matches once it is visible, in the
// page's own script: a row the dashboard redraws meanwhile (a status
// event) is found afresh rather than clicked as a stale node.
func (b *browser) click(sel string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	b.run("clicking "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool]("(document.querySelector("+string(q)+").click(), true)")(ctx, tg)
			return err
		}))
}

// typeInto replaces the value of the field sel with text, as typed.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	b.run("typing into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool]("(document.querySelector("+string(q)+").value = '') === ''")(ctx, tg)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// signIn signs in through the login form and waits for the agents list.
func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.open("#/login", "#login")
	b.typeInto("#username", user)
	b.typeInto("#password", password)
	b.run("signing in as "+user, chromedp.Click(chromedp.CSS("#login button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#agents")))
}

// setHeader sends header with every request the tab makes from now on.
func (b *browser) setHeader(name, value string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{name: value}}); err != nil {
		b.t.Fatalf("setting %s: %v", name, err)
	}
}

// screenshot writes the page, at desktop and at phone width, as
// <name>-desktop.png and <name>-phone.png in screenshotDir.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, size := range []struct {
		label string
		w, h  int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		var opts []chromedp.EmulateViewportOption
		if size.label == "phone" {
			opts = append(opts, chromedp.EmulateMobile)
		}
		b.run("sizing for "+name, chromedp.EmulateViewport(size.w, size.h, opts...), chromedp.Sleep(300*time.Millisecond))
		// Nothing is wider than the screen, nor scrolls sideways in a box.
		if wide := b.overflow(size.w); wide != "" {
			b.t.Errorf("%s at %s width (%d px): %s", name, size.label, size.w, wide)
		}
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir, fmt.Sprintf("%s-%s.png", name, size.label)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.run("back to desktop size", chromedp.EmulateViewport(1280, 900))
}

// overflowJS lists what reaches past width px, or scrolls sideways
// inside its box (a table in a scrolling wrapper, a long command), on the
// page as drawn: the page's own width, then each element's right edge.
// Form fields are left out (a long value scrolls inside its field), and
// so are the logs, which wrap. Measured against the width asked for, not
// innerWidth, which a phone's zooming out to the content would widen.
const overflowJS = `((W) => {
  const out = [], name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  if (document.documentElement.scrollWidth > W) out.push('the page is ' + document.documentElement.scrollWidth + ' px wide');
  for (const el of document.body.querySelectorAll('*')) {
    if (['INPUT', 'TEXTAREA', 'SELECT', 'OPTION'].includes(el.tagName) || el.closest('svg, dialog:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > W + 0.5) out.push(name(el) + ' reaches ' + Math.round(r.right) + ' px');
    else if (r.width > 0 && el.scrollWidth > el.clientWidth + 1 && /auto|scroll/.test(getComputedStyle(el).overflowX)) out.push(name(el) + ' scrolls sideways (' + el.scrollWidth + ' px in ' + el.clientWidth + ')');
  }
  return out.slice(0, 6).join('; ');
})`

// overflow is what on the page overflows width px (overflowJS), or "".
func (b *browser) overflow(width int64) string {
	b.t.Helper()
	return b.evalString(overflowJS + "(" + fmt.Sprint(width) + ")")
}

// screenshotDark writes the page at desktop width in the dark colour
// scheme, as <name>-dark.png, and switches back to light.
func (b *browser) screenshotDark(name string) {
	b.t.Helper()
	b.colorScheme("dark")
	defer b.colorScheme("")
	b.run("sizing for "+name, chromedp.Sleep(300*time.Millisecond))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+"-dark.png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// colorScheme emulates prefers-color-scheme ("dark", "light"; "" the
// browser's own).
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	var features []*emulation.MediaFeature
	if scheme != "" {
		features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
		b.t.Fatalf("emulating %q: %v", scheme, err)
	}
}

// key sends a key press (kb.Tab, kb.Enter, or text) to the focused element.
func (b *browser) key(keys string) {
	b.t.Helper()
	b.run("pressing "+keys, chromedp.KeyEvent(keys))
}

// Short names for the actions the tests use most.
func chromedpWaitVisible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func chromedpSubmit(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Submit(chromedp.CSS(sel))
}
func chromedpNavigate(url string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(url) }
func itoa(n int) string                                          { return fmt.Sprint(n) }

// dashboardWait fails t unless ok turns true within d.
func dashboardWait(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, d)
		}
	}
}

// jsQuote is s as a JavaScript string literal.
func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// eval runs a JavaScript statement in the page.
func (b *browser) eval(js string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any]("(() => { "+js+"; return null })()")); err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
}
