package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/broker"
)

// TestStatusChangesArePublished: every recorded change reaches the bus,
// and a watcher sees only the agents its user may see.
func TestStatusChangesArePublished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	bus := broker.New(0)
	s.Agents.events = bus
	admin, alice, bob := mustUser(t, s, "root"), mustUser(t, s, "alice"), mustUser(t, s, "bob")
	a := mustAgent(t, s, alice, "a")

	type seen struct {
		who string
		c   warder.StatusChange
	}
	got := make(chan seen, 100)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, u := range []*warder.User{admin, alice, bob} {
		ready := make(chan struct{})
		go s.Observe.WatchEvents(wctx, u, 0, func() { close(ready) }, func(c warder.StatusChange) error {
			got <- seen{u.Username, c}
			return nil
		})
		<-ready
	}
	if _, err := s.Agents.StartAgent(ctx, alice, a.ID); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	deadline := time.After(2 * time.Second)
	for counts["root"] < 2 || counts["alice"] < 2 {
		select {
		case x := <-got:
			counts[x.who]++
			if x.c.AgentID != a.ID || x.c.UserID != alice.ID || x.c.AgentName != "a" || x.c.Actor != "user:alice" {
				t.Fatalf("%s saw %+v", x.who, x.c)
			}
			if x.c.To == warder.StatusRunning && x.c.ContainerID == "" {
				t.Fatalf("running change without a container id: %+v", x.c)
			}
		case <-deadline:
			t.Fatalf("changes seen within 2s: %v; want starting and running for root and alice", counts)
		}
	}
	select {
	case x := <-got:
		if x.who == "bob" {
			t.Fatalf("bob saw alice's agent: %+v", x.c)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

func TestAuditLogRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	admin, alice := mustUser(t, s, "root"), mustUser(t, s, "alice")
	for _, e := range []*warder.AuditEntry{
		{UserID: alice.ID, Username: "alice", Action: "POST /api/agents", Status: 201, Result: "ok"},
		{UserID: admin.ID, Username: "root", Action: "POST /api/agents", Status: 201, Result: "ok"},
	} {
		if err := s.Admin.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Admin.AuditLog(ctx, alice, warder.AuditQuery{}); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("a user reads the audit log: %v", err)
	}
	for _, who := range []string{"alice", alice.ID, "alice@example.com"} {
		list, err := s.Admin.AuditLog(ctx, admin, warder.AuditQuery{User: who})
		if err != nil || len(list) != 1 || list[0].Username != "alice" {
			t.Fatalf("filter by %q = %v, %v", who, list, err)
		}
	}
	bad := []warder.AuditQuery{
		{User: "nobody"},
		{Limit: MaxAuditEntries + 1},
		{Since: time.Now(), Until: time.Now().Add(-time.Hour)},
	}
	for _, q := range bad {
		if _, err := s.Admin.AuditLog(ctx, admin, q); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("AuditLog(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

// TestStatsOfAStoppedAgent: a stopped agent's stats say it is not running.
func TestStatsOfAStoppedAgent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	alice := mustUser(t, s, "alice")
	a := mustAgent(t, s, alice, "a")
	if _, err := s.Observe.AgentStats(ctx, alice, a.ID); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("stats of a never-started agent = %v", err)
	}
	if _, err := s.Agents.StartAgent(ctx, alice, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Agents.StopAgent(ctx, alice, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Observe.AgentStats(ctx, alice, a.ID)
	if !errors.Is(err, warder.ErrConflict) || warder.ErrorMessage(err) != "agent container is not running (agent status: stopped)" {
		t.Fatalf("stats of a stopped agent = %v", err)
	}
	err = s.Observe.WatchAgentStats(ctx, alice, a.ID, func() { t.Fatal("ready called for a stopped agent") }, nil)
	if !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("watching a stopped agent = %v", err)
	}
}
