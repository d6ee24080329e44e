package service

import (
	"context"
	"testing"
)

// TestProbedHealth: with no health check of the runtime's own, a running
// agent's health is Warder's probe of its /health: starting, healthy once
// it answers, unhealthy after three failed probes in a row, healthy again
// when it answers; a stopped agent has none.
func TestProbedHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, fa := newChatService(t)
	u := mustUser(t, s, "root")
	a, err := s.StartAgent(ctx, u, mustAgent(t, s, u, "a").ID)
	if err != nil {
		t.Fatal(err)
	}
	health := func() string {
		t.Helper()
		got, err := s.Agent(ctx, u, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Health
	}
	if h := health(); h != "starting" {
		t.Fatalf("health right after start = %q, want starting", h)
	}
	probe := func(want string) {
		t.Helper()
		if err := s.ProbeHealth(ctx); err != nil {
			t.Fatal(err)
		}
		if h := health(); h != want {
			t.Fatalf("health = %q, want %q", h, want)
		}
	}
	probe("healthy")
	fa.mu.Lock()
	fa.down = true
	fa.mu.Unlock()
	probe("healthy") // one failure
	probe("healthy") // two
	probe("unhealthy")
	fa.mu.Lock()
	fa.down = false
	fa.mu.Unlock()
	probe("healthy")
	if _, err := s.StopAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	if h := health(); h != "" {
		t.Fatalf("health of a stopped agent = %q", h)
	}
	var n int
	s.endpoints.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d endpoints cached for no running container", n)
	}
}
