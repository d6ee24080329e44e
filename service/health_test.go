package service

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/warder/warder"
)

// probedAgent is a started agent of user u on a service whose agents
// answer /health through fa.
func probedAgent(t *testing.T) (*Service, *fakeAgents, *warder.User, *warder.Agent) {
	t.Helper()
	s, _, fa := newChatService(t)
	u := mustUser(t, s, "root")
	a, err := s.Agents.StartAgent(context.Background(), u, mustAgent(t, s, u, "a").ID)
	if err != nil {
		t.Fatal(err)
	}
	return s, fa, u, a
}

// TestProbedHealth: with no health check of the runtime's own, a running
// agent's health is Warder's probe of its /health: starting, healthy once
// it answers, unhealthy after three failed probes in a row, healthy again
// when it answers; a stopped agent has none.
func TestProbedHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, fa, u, a := probedAgent(t)
	health := func() string {
		t.Helper()
		got, err := s.Agents.Agent(ctx, u, a.ID)
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
		if err := s.Observe.ProbeHealth(ctx); err != nil {
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
	if _, err := s.Agents.StopAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	if h := health(); h != "" {
		t.Fatalf("health of a stopped agent = %q", h)
	}
	var n int
	s.Agents.work.mu.Lock()
	for _, h := range s.Agents.work.m {
		if h.reach.endpoint != "" {
			n++
		}
	}
	s.Agents.work.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d endpoints cached for no running container", n)
	}
}

// TestProbeEndpoint: the health rounds probe a running agent where its
// runtime says probes reach it (its own address, on Docker's host), and
// chat goes to its endpoint (the published port) all the same.
func TestProbeEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, fa, u, a := probedAgent(t)
	if err := s.Observe.ProbeHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Chat.Chat(ctx, u, a.ID, warder.ChatRequest{Content: "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	published, own := fmt.Sprintf("http://127.0.0.1:%d", a.HostPort), "http://fake-"+a.ContainerID+":8000"
	if a.HostPort == 0 || len(fa.probeAt) == 0 || fa.probeAt[0] != own {
		t.Fatalf("probed at %v, want %s", fa.probeAt, own)
	}
	if len(fa.reached) != 1 || fa.reached[0] != published {
		t.Fatalf("chat reached %v, want %s", fa.reached, published)
	}
}

// TestSteadyHealthRests: an agent that has answered steadyAfter probes in a
// row is probed every steadyEvery rounds only; once a probe fails it is
// probed every round again, so it is unhealthy unhealthyAfter rounds
// later, and steady again only after steadyAfter answers.
func TestSteadyHealthRests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, fa, u, a := probedAgent(t)
	// round probes once and reports whether the agent was asked, and its
	// health after.
	round := func() (asked bool, health string) {
		t.Helper()
		fa.mu.Lock()
		before := fa.probed
		fa.mu.Unlock()
		if err := s.Observe.ProbeHealth(ctx); err != nil {
			t.Fatal(err)
		}
		fa.mu.Lock()
		asked = fa.probed > before
		fa.mu.Unlock()
		got, err := s.Agents.Agent(ctx, u, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return asked, got.Health
	}
	setDown := func(down bool) {
		fa.mu.Lock()
		fa.down = down
		fa.mu.Unlock()
	}
	var asked []bool
	check := func(want []bool, wantHealth string) {
		t.Helper()
		asked = asked[:0]
		var h string
		for range want {
			var ok bool
			ok, h = round()
			asked = append(asked, ok)
		}
		if !slices.Equal(asked, want) || h != wantHealth {
			t.Fatalf("asked %v, health %q; want %v, %q", asked, h, want, wantHealth)
		}
	}
	// Three answers, then every third round.
	check([]bool{true, true, true, false, false, true, false, false, true}, "healthy")
	setDown(true)
	// Unnoticed for up to two rounds; from the first failure on, every
	// round, unhealthy at the third.
	check([]bool{false, false, true, true, true}, "unhealthy")
	setDown(false)
	check([]bool{true, true, true, false, false, true}, "healthy")
}
