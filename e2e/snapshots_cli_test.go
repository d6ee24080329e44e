package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warder/warder/cli"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestCLISnapshots: warder agents snapshot, snapshots, restore, fork and
// snapshot -d against a real server and Docker, as a user at a shell.
func TestCLISnapshots(t *testing.T) {
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
	note := filepath.Join(local, "note.txt")
	if err := os.WriteFile(note, []byte("version one"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.ok("cp", note, "box:/data/")

	id := strings.Fields(u.ok("agents", "snapshot", "box", "v1"))[0]
	if out := u.ok("agents", "snapshots", "box"); !strings.Contains(out, "SNAPSHOT ID") || !strings.Contains(out, id) || !strings.Contains(out, "v1") {
		t.Fatalf("snapshots:\n%s", out)
	}
	if err := os.WriteFile(note, []byte("version two"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.ok("cp", note, "box:/data/")
	if out := u.ok("agents", "restore", "box", "v1"); !strings.Contains(out, "box\trunning") {
		t.Fatalf("restore: %q", out)
	}
	if out := u.ok("exec", "box", "/warder-agent", "cat", "/data/note.txt"); out != "version one" {
		t.Fatalf("after restore: %q", out)
	}
	u.ok("agents", "fork", "box", "copy", "--snapshot", id[:8], "--start")
	if out := u.ok("exec", "copy", "/warder-agent", "cat", "/data/note.txt"); out != "version one" {
		t.Fatalf("fork: %q", out)
	}
	u.fails(cli.ExitNotFound, "no snapshot", "agents", "restore", "box", "nope")
	u.ok("agents", "snapshot", "-d", "box", "v1")
	if out := u.ok("agents", "snapshots", "box", "--json"); !strings.Contains(out, `"snapshots": []`) {
		t.Fatalf("after delete: %s", out)
	}

	// Kept past the agent's deletion, reached by the agent's id.
	boxID := strings.TrimSpace(u.ok("agents", "inspect", "box", "--format", "{{.ID}}"))
	u.ok("agents", "snapshot", "box", "kept")
	u.ok("agents", "rm", "-f", "--keep-snapshots", "box")
	if out := u.ok("agents", "snapshots", boxID); !strings.Contains(out, "kept") {
		t.Fatalf("kept snapshots:\n%s", out)
	}
	u.ok("agents", "fork", boxID, "revived", "--snapshot", "kept", "--start")
	if out := u.ok("exec", "revived", "/warder-agent", "cat", "/data/note.txt"); out != "version one" {
		t.Fatalf("revived: %q", out)
	}
}
