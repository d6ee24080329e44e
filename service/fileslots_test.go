package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// TestFileOpsBoundedPerUser: a user's files calls running at once are
// bounded (a download holds its slot until closed); past the bound the
// answer is a 429-kind error naming the setting, another user is not
// affected, and a closed download gives its slot back.
func TestFileOpsBoundedPerUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	s.Agents.cfg.Spec.Workspaces = true
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	a, b := mustAgent(t, s, alice, "a"), mustAgent(t, s, bob, "b")
	if _, err := s.Files.WriteFile(ctx, alice, a.ID, "f.txt", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	var open []interface{ Close() error }
	for range DefaultFileOpsPerUser {
		rc, err := s.Files.ReadTar(ctx, alice, a.ID, "f.txt")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, rc)
	}
	_, err := s.Files.ListDir(ctx, alice, a.ID, "")
	var rl *warder.RateLimitError
	if !errors.As(err, &rl) || !strings.Contains(rl.Msg, "WARDER_MAX_FILE_OPS_PER_USER") {
		t.Fatalf("a call past the bound: %v", err)
	}
	if _, err := s.Files.ListDir(ctx, bob, b.ID, ""); err != nil {
		t.Fatalf("another user's call: %v", err)
	}
	open[0].Close()
	if _, err := s.Files.ListDir(ctx, alice, a.ID, ""); err != nil {
		t.Fatalf("after a download closed: %v", err)
	}
	for _, rc := range open[1:] {
		rc.Close()
	}
}
