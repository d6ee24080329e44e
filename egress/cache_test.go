package egress

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

type countingAgents struct {
	agents
	calls atomic.Int64
}

func (c *countingAgents) EgressGrant(ctx context.Context, agent string) (Grant, error) {
	c.calls.Add(1)
	return c.agents.EgressGrant(ctx, agent)
}

func TestCachedAgents(t *testing.T) {
	inner := &countingAgents{agents: agents{"a1": {Agent: "a1", Policy: All}}}
	c := CachedAgents(inner, 100*time.Millisecond, 2)
	ctx := context.Background()
	for range 3 {
		if g, err := c.EgressGrant(ctx, "a1"); err != nil || g.Agent != "a1" {
			t.Fatalf("a1: %v %v", g, err)
		}
		if _, err := c.EgressGrant(ctx, "nobody"); err == nil {
			t.Fatal("an unknown agent was found")
		}
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("%d lookups, want 2", n)
	}
	// Bounded: a third name pushes one out; nothing grows.
	c.EgressGrant(ctx, "x")
	if n := len(c.(*cachedAgents).m); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	// Expired: asked again; a policy change shows.
	time.Sleep(150 * time.Millisecond)
	inner.agents["a1"] = Grant{Agent: "a1", Policy: None}
	if g, _ := c.EgressGrant(ctx, "a1"); !g.Policy.IsNone() {
		t.Errorf("after ttl: %v", g.Policy)
	}
}
