package sqlstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestReplacedSecretsLeaveNoTrace: once an agent's sealed secrets are
// replaced (by an update or a key rotation) or the agent is deleted, no
// file in SQLite's data directory holds the old sealed value, while the
// database stays open, as it is while Warder runs.
func TestReplacedSecretsLeaveNoTrace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenSQLite(ctx, filepath.Join(dir, "warder.db"), SyncFull)
	wantNoErr(t, err)
	defer db.Close()
	alice := MustCreateUser(t, db, "alice")
	a := MustCreateAgent(t, db, alice.ID, "a")
	b := MustCreateAgent(t, db, alice.ID, "b")
	c := MustCreateAgent(t, db, alice.ID, "c")

	secret := func(name string) string { return "v1:" + name + "-" + string(bytes.Repeat([]byte("s"), 40)) }
	for _, x := range []struct {
		name  string
		write func(old string)
	}{
		{"update", func(string) {
			a.SealedSecrets = secret("a-new")
			wantNoErr(t, db.UpdateAgent(ctx, a))
		}},
		{"rotation", func(old string) { wantNoErr(t, db.ResealSecrets(ctx, b.ID, old, secret("b-new"))) }},
		{"delete", func(string) { wantNoErr(t, db.DeleteAgent(ctx, c.ID)) }},
	} {
		agent := map[string]*struct{ id string }{"update": {a.ID}, "rotation": {b.ID}, "delete": {c.ID}}[x.name]
		got, err := db.Agent(ctx, agent.id)
		wantNoErr(t, err)
		old := secret(x.name + "-old")
		got.SealedSecrets = old
		wantNoErr(t, db.UpdateAgent(ctx, got))
		if x.name == "update" {
			a = got
		}
		if !inFiles(t, dir, old) {
			t.Fatalf("%s: the secret was never written, so the test proves nothing", x.name)
		}
		x.write(old)
		if inFiles(t, dir, old) {
			t.Errorf("%s: the replaced secret is still in the data directory", x.name)
		}
	}
}

// inFiles reports whether any file in dir contains s.
func inFiles(t *testing.T, dir, s string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	wantNoErr(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		wantNoErr(t, err)
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}
