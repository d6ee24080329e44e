package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
)

// TestReconcileLeavesOthersOperations: on a shared store, an agent
// another process is stopping is left to it (errElsewhere, and a resync
// skips it) until that stop is older than StartTimeout; then maintenance
// settles it as interrupted.
func TestReconcileLeavesOthersOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	s.Agents.exclusive, s.Agents.startTimeout = false, time.Minute
	u := mustUser(t, s, "alice")
	a := mustAgent(t, s, u, "elsewhere")
	if _, err := s.Agents.StartAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	// Another process has recorded a stop it is making.
	a, _ = s.Agents.store.Agent(ctx, a.ID)
	a.Status, a.StatusChangedAt = warder.StatusStopping, time.Now().UTC()
	if err := s.Agents.store.UpdateAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Observe.reconcile(ctx, a.ID, reconcileOpts{actor: "docker"}); !errors.Is(err, errElsewhere) {
		t.Fatalf("reconcile of another's stop = %v", err)
	}
	if err := s.Observe.Resync(ctx); err != nil {
		t.Fatalf("a resync skips it: %v", err)
	}
	// Older than any stop can take: it was interrupted, and maintenance
	// finishes it.
	a.StatusChangedAt = time.Now().UTC().Add(-2 * time.Minute)
	if err := s.Agents.store.UpdateAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Observe.settleStale(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Agents.store.Agent(ctx, a.ID); got.Status != warder.StatusStopped {
		t.Fatalf("an interrupted stop settled as %s", got.Status)
	}
}
