package service

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/broker"
)

// TestDeletionIsPublished: deleting an agent ends its changes with one to
// "deleted", so a follower of /api/events (the dashboard's list) drops it.
func TestDeletionIsPublished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	s.Agents.events = broker.New(0)
	alice := mustUser(t, s, "alice")
	a := mustAgent(t, s, alice, "a")
	got := make(chan warder.StatusChange, 10)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	go s.Observe.WatchEvents(wctx, alice, 0, func() { close(ready) }, func(c warder.StatusChange) error { got <- c; return nil })
	<-ready
	if err := s.Agents.DeleteAgent(ctx, alice, a.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.AgentID != a.ID || c.To != warder.StatusDeleted || c.From != warder.StatusCreated || c.Actor != "user:alice" || c.UserID != alice.ID {
			t.Fatalf("the deletion was published as %+v", c)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no change published for the deletion")
	}
}
