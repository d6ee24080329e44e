package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/warder/warder/internal/app"
)

// TestDashboardFiles: the Files card of an agent's page, on a real
// workspace (the agent never started: files work while it is stopped).
// Browse into a directory the API wrote and back up; upload a file with
// the file input and see it listed, its bytes in the workspace; download
// it, and the workspace as a tar, to disk; an upload over WARDER_MAX_UPLOAD_BYTES shows the server's
// 413 detail and leaves nothing; delete the file and a directory (each
// confirmed) and see them gone.
func TestDashboardFiles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *app.Config) { c.MaxUploadBytes = 64 << 10 })
	c := ts.register(t, "alice")
	a := c.CreateAgent("files")
	files := "/api/agents/" + a.ID + "/files/"
	c.MustDo("PUT", files+"notes/plan.txt", "step one", 200, nil)
	b := newBrowser(t, ts.URL)
	b.signIn("alice", "password-alice")

	b.open("#/agents/"+a.ID, `#files tr[data-file="notes"][data-type="dir"]`)
	b.click(`#files tr[data-file="notes"] button[data-action="open"]`)
	b.waitJS("inside notes", `document.querySelector('#files-path').textContent === '/data/notes' && document.querySelector('#files tr[data-file="plan.txt"]')`)
	b.click(`#files button[data-action="up"]`)
	b.waitJS("back at the root", `document.querySelector('#files-path').textContent === '/data/' && document.querySelector('#files tr[data-file="notes"]')`)

	// Upload through the file input.
	local := t.TempDir()
	const body = "hello from the dashboard\n"
	hello := filepath.Join(local, "hello world.txt")
	if err := os.WriteFile(hello, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("choosing a file", chromedp.SetUploadFiles(chromedp.CSS("#files-upload"), []string{hello}))
	b.waitJS("the upload listed", `(r => r && r.dataset.type === 'file' && r.children[1].textContent === '25B')(document.querySelector('#files tr[data-file="hello world.txt"]'))`)
	if code, got := c.Do("GET", files+"hello%20world.txt", nil); code != 200 || string(got) != body {
		t.Fatalf("the uploaded file through the API = %d %q", code, got)
	}
	b.screenshot("files")

	// Download it, to disk.
	downloads := t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	cancel()
	b.click(`#files tr[data-file="hello world.txt"] button[data-action="download"]`)
	dashboardWait(t, time.Minute, "the downloaded file", func() bool {
		got, err := os.ReadFile(filepath.Join(downloads, "hello world.txt"))
		return err == nil && string(got) == body
	})

	// The whole workspace as a tar.
	b.click("#files-tar")
	dashboardWait(t, time.Minute, "the downloaded tar", func() bool {
		got, err := os.ReadFile(filepath.Join(downloads, "workspace.tar"))
		return err == nil && strings.Contains(string(got), "notes/plan.txt") && strings.Contains(string(got), body)
	})

	// Too large: the server's detail is shown, nothing is written.
	big := filepath.Join(local, "big.bin")
	if err := os.WriteFile(big, make([]byte, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("choosing a large file", chromedp.SetUploadFiles(chromedp.CSS("#files-upload"), []string{big}))
	b.waitJS("the 413's detail", `document.querySelector('#files-error').textContent.includes('WARDER_MAX_UPLOAD_BYTES')`)
	if code, _ := c.Do("GET", files+"big.bin", nil); code != 404 {
		t.Fatalf("after a refused upload, GET big.bin = %d", code)
	}
	if b.evalString(`String(!!document.querySelector('#files tr[data-file="big.bin"]'))`) != "false" {
		t.Fatal("a refused upload is listed")
	}

	// Delete the file, then the directory, each confirmed.
	b.click(`#files tr[data-file="hello world.txt"] button[data-action="delete"]`)
	b.run("the confirmation", chromedpWaitVisible("#confirm"))
	if q := b.text("#confirm-text"); !strings.Contains(q, "/data/hello world.txt") {
		t.Fatalf("the confirmation asks %q", q)
	}
	b.click("#confirm-ok")
	b.waitJS("the file gone", `!document.querySelector('#files tr[data-file="hello world.txt"]') && document.querySelector('#files tr[data-file="notes"]')`)
	if code, _ := c.Do("GET", files+"hello%20world.txt", nil); code != 404 {
		t.Fatalf("after deleting, GET = %d", code)
	}
	b.click(`#files tr[data-file="notes"] button[data-action="delete"]`)
	b.run("the confirmation", chromedpWaitVisible("#confirm"))
	b.click("#confirm-ok")
	b.waitJS("the directory gone, the workspace empty", `!document.querySelector('#files tr[data-file]') && document.querySelector('#files').textContent === 'Empty'`)
	if code, _ := c.Do("GET", files+"notes/plan.txt", nil); code != 404 {
		t.Fatalf("after deleting notes, GET notes/plan.txt = %d", code)
	}
}
