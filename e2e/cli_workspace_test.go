package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestCLICopyAndExec: warder cp both ways (a file, a directory, a tar on
// stdout) and warder exec (output, -i, -e, the command's exit code, 124
// at the timeout), against a real agent.
func TestCLICopyAndExec(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	if _, err := client.New(ts.URL, "").Register(context.Background(), wire.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	u := newCLIUser(t)
	if code, out, errs := u.run("correct horse\n", "login", ts.URL, "-u", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s %s", code, out, errs)
	}
	u.ok("agents", "create", "box", "--start")

	local := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(local, "note.txt"), []byte("a note"), 0o644))
	must(os.MkdirAll(filepath.Join(local, "project", "src"), 0o755))
	must(os.WriteFile(filepath.Join(local, "project", "src", "main.go"), []byte("package main"), 0o644))

	u.ok("cp", filepath.Join(local, "note.txt"), "box:/data/notes/")
	u.ok("cp", filepath.Join(local, "project"), "box:work")
	if out := u.ok("exec", "box", "/warder-agent", "cat", "/data/notes/note.txt"); out != "a note" {
		t.Fatalf("exec cat: %q", out)
	}
	if out := u.ok("exec", "box", "--", "/warder-agent", "ls", "/data/work/project/src"); !strings.Contains(out, "main.go") {
		t.Fatalf("exec ls: %q", out)
	}
	back := t.TempDir()
	u.ok("cp", "box:work/project", back)
	if b, err := os.ReadFile(filepath.Join(back, "project", "src", "main.go")); err != nil || string(b) != "package main" {
		t.Fatalf("copied back: %q %v", b, err)
	}
	u.ok("cp", "box:notes/note.txt", filepath.Join(back, "copy.txt"))
	if b, err := os.ReadFile(filepath.Join(back, "copy.txt")); err != nil || string(b) != "a note" {
		t.Fatalf("a file copied back: %q %v", b, err)
	}
	if out := u.ok("cp", "box:notes", "-"); !strings.Contains(out, "notes/note.txt") {
		t.Fatalf("a tar on stdout lacks the file")
	}

	if code, out, _ := u.run("piped in", "exec", "-i", "box", "/warder-agent", "cat"); code != 0 || out != "piped in" {
		t.Fatalf("exec -i: %d %q", code, out)
	}
	if code, out, _ := u.run("", "exec", "-e", "GREETING=hi", "box", "/warder-agent", "env"); code != 0 || !strings.Contains(out, "GREETING=hi\n") {
		t.Fatalf("exec -e: %d %q", code, out)
	}
	if code, _, errs := u.run("", "exec", "box", "/warder-agent", "ls", "/nonexistent"); code != 1 || !strings.Contains(errs, "ls:") {
		t.Fatalf("a failing command: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := u.run("", "exec", "--timeout", "1s", "box", "/warder-agent", "sleep", "60"); code != 124 || !strings.Contains(errs, "timeout") {
		t.Fatalf("a timed-out command: exit %d, stderr %q", code, errs)
	}
	u.fails(2, "exactly one", "cp", "a", "b")
	u.fails(6, "no agent", "cp", "nosuch:x", t.TempDir())
}
