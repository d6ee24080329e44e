package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/api"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/sqlstore"
)

// newTestService returns a Service on a real SQLite store and the
// conformance-checked fake runtime, with a host port range of size ports
// starting at 20000, of which busy are taken outside Warder.
func newTestService(t *testing.T, ports int, busy ...int) (*Service, *runtimetest.Fake) {
	t.Helper()
	return newTestServiceOn(t, func(f *runtimetest.Fake) warder.Runtime { return f }, ports, busy...)
}

// newTestServiceOn is newTestService on the runtime wrap makes of the fake.
func newTestServiceOn(t *testing.T, wrap func(*runtimetest.Fake) warder.Runtime, ports int, busy ...int) (*Service, *runtimetest.Fake) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rt := runtimetest.NewFake(db, 20000, 20000+ports-1)
	rt.Busy(busy...)
	return New(api.AuditStatuses(db), wrap(rt), Config{ // as internal/app does
		Lifecycle: AgentsConfig{DefaultImage: "warder/agent:latest", Spec: warder.SpecSettings{Network: "net"}},
		// SQLite is one process's, as in production.
		ExclusiveStore: true,
	}), rt
}

func mustUser(t *testing.T, s *Service, name string) *warder.User {
	t.Helper()
	u, err := s.Auth.Register(context.Background(), warder.RegisterRequest{Username: name, Email: name + "@example.com", Password: "password"}, "test:"+name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustAgent(t *testing.T, s *Service, u *warder.User, name string) *warder.Agent {
	t.Helper()
	a, err := s.Agents.CreateAgent(context.Background(), u, warder.AgentCreate{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestOwnershipRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	admin, alice, bob := mustUser(t, s, "root"), mustUser(t, s, "alice"), mustUser(t, s, "bob")
	if !admin.IsAdmin() || alice.IsAdmin() {
		t.Fatalf("roles: admin=%s alice=%s", admin.Role, alice.Role)
	}
	a := mustAgent(t, s, alice, "a")
	if _, err := s.Agents.Agent(ctx, bob, a.ID); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("bob reads alice's agent: %v", err)
	}
	if _, err := s.Agents.StartAgent(ctx, bob, a.ID); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("bob starts alice's agent: %v", err)
	}
	if err := s.Agents.DeleteAgent(ctx, bob, a.ID); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("bob deletes alice's agent: %v", err)
	}
	if _, err := s.Agents.Agent(ctx, admin, a.ID); err != nil {
		t.Fatalf("admin reads alice's agent: %v", err)
	}
	if _, err := s.Agents.CreateAgent(ctx, bob, warder.AgentCreate{Name: "x", UserID: alice.ID}); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("bob creates for alice: %v", err)
	}
	b, err := s.Agents.CreateAgent(ctx, admin, warder.AgentCreate{Name: "x", UserID: bob.ID})
	if err != nil || b.UserID != bob.ID {
		t.Fatalf("admin creates for bob: %v %+v", err, b)
	}
	if _, err := s.Agents.CreateAgent(ctx, admin, warder.AgentCreate{Name: "y", UserID: "00000000-0000-0000-0000-000000000000"}); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("admin creates for nobody: %v", err)
	}
	if _, err := s.Agents.CreateAgent(ctx, alice, warder.AgentCreate{Name: "a"}); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.Agents.CreateAgent(ctx, bob, warder.AgentCreate{Name: "a"}); err != nil {
		t.Fatalf("same name, other user: %v", err)
	}
	list, _ := s.Agents.ListAgents(ctx, alice, warder.AgentQuery{})
	all, _ := s.Agents.ListAgents(ctx, admin, warder.AgentQuery{})
	if len(list.Agents) != 1 || len(all.Agents) != 3 {
		t.Fatalf("alice lists %d, admin lists %d", len(list.Agents), len(all.Agents))
	}
}

func TestLifecycleRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")
	if _, err := s.Agents.StopAgent(ctx, u, a.ID); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("stop before start: %v", err)
	}
	a, err := s.Agents.StartAgent(ctx, u, a.ID)
	if err != nil || a.Status != warder.StatusRunning || a.HostPort != 20000 || a.ContainerID == "" {
		t.Fatalf("start: %v %+v", err, a)
	}
	first := a.ContainerID
	if a, err = s.Agents.StartAgent(ctx, u, a.ID); err != nil || a.ContainerID != first || rt.Count() != 1 {
		t.Fatalf("second start made a new container: %v %+v", err, a)
	}
	mem := "1g"
	edit := warder.AgentUpdate{ContainerConfig: &warder.ContainerConfigUpdate{MemoryLimit: &mem}}
	if _, err := s.Agents.UpdateAgent(ctx, u, a.ID, edit); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("changing container_config while running: %v", err)
	}
	if _, err := s.Agents.StopAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	// The container goes, and with it (the runtime sees to it) its host port.
	if a, err = s.Agents.UpdateAgent(ctx, u, a.ID, edit); err != nil || a.ContainerID != "" || rt.Count() != 0 || a.HostPort != 0 {
		t.Fatalf("changing container_config while stopped: %v %+v (containers %d)", err, a, rt.Count())
	}
	if a, err = s.Agents.StartAgent(ctx, u, a.ID); err != nil || rt.SpecOf(a.ContainerID).MemoryBytes != 1<<30 || a.HostPort != 20000 {
		t.Fatalf("restart after edit: %v", err)
	}
	// The container vanishes behind Warder's back: the next start makes a new one.
	rt.Remove(ctx, a.ContainerID)
	if a, err = s.Agents.StartAgent(ctx, u, a.ID); err != nil || a.Status != warder.StatusRunning || rt.Count() != 1 {
		t.Fatalf("start after the container vanished: %v %+v", err, a)
	}
	// Docker down: start is 503 and the record is untouched; delete refuses
	// rather than leak the container.
	rt.SetDown(true)
	if _, err := s.Agents.RestartAgent(ctx, u, a.ID); !errors.Is(err, warder.ErrUnavailable) {
		t.Fatalf("restart with Docker down: %v", err)
	}
	if err := s.Agents.DeleteAgent(ctx, u, a.ID); !errors.Is(err, warder.ErrUnavailable) {
		t.Fatalf("delete with Docker down: %v", err)
	}
	got, _ := s.Agents.Agent(ctx, u, a.ID)
	if got.Status != warder.StatusRunning {
		t.Fatalf("status after Docker went down: %s", got.Status)
	}
	rt.SetDown(false)
	if err := s.Agents.DeleteAgent(ctx, u, a.ID); err != nil || rt.Count() != 0 {
		t.Fatalf("delete: %v, %d containers left", err, rt.Count())
	}
	if used, _ := s.Agents.store.UsedPorts(ctx); len(used) != 0 {
		t.Fatalf("ports held after delete: %v", used)
	}
}

func TestPortAllocator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	busy := 20003
	s, _ := newTestService(t, 50, busy)
	u := mustUser(t, s, "root")
	const n = 49 // the range holds 50 ports, one of them busy
	agents := make([]*warder.Agent, n+1)
	for i := range agents {
		agents[i] = mustAgent(t, s, u, fmt.Sprintf("a%d", i))
	}
	var wg sync.WaitGroup
	ports := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.Agents.StartAgent(ctx, u, agents[i].ID)
			if err != nil {
				t.Errorf("start %d: %v", i, err)
				return
			}
			ports[i] = a.HostPort
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p == busy || p < 20000 || p > 20049 {
			t.Fatalf("port %d handed out wrongly; all: %v", p, ports)
		}
		seen[p] = true
	}
	_, err := s.Agents.StartAgent(ctx, u, agents[n].ID)
	if !errors.Is(err, warder.ErrConflict) || !strings.Contains(err.Error(), "20000-20049") {
		t.Fatalf("start with the range exhausted: %v", err)
	}
	if err := s.Agents.DeleteAgent(ctx, u, agents[7].ID); err != nil {
		t.Fatal(err)
	}
	a, err := s.Agents.StartAgent(ctx, u, agents[n].ID)
	if err != nil || a.HostPort != ports[7] {
		t.Fatalf("after a delete: %v, port %d, want the freed %d", err, a.HostPort, ports[7])
	}
}
