package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/sqlstore"
)

// listRecorder is the real store, noting every ListAgents filter.
type listRecorder struct {
	warder.Store
	mu    sync.Mutex
	lists []warder.AgentFilter
}

func (r *listRecorder) ListAgents(ctx context.Context, f warder.AgentFilter) ([]*warder.Agent, error) {
	r.mu.Lock()
	r.lists = append(r.lists, f)
	r.mu.Unlock()
	return r.Store.ListAgents(ctx, f)
}

// take returns the filters noted since the last call.
func (r *listRecorder) take() []warder.AgentFilter {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lists
	r.lists = nil
	return out
}

// TestQuotaChecksReadNoFullList: creating and starting agents checks the
// quotas by counting the owner's agents and reading only those that hold
// resources, never the whole list; the limits still hold at their edges.
func TestQuotaChecksReadNoFullList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, t.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &listRecorder{Store: db}
	agents, running, mem := 12, 2, int64(80<<20)
	s := New(rec, runtimetest.NewFake(db, 20000, 20009), Config{
		ExclusiveStore: true,
		Lifecycle: AgentsConfig{
			DefaultImage: "warder/agent:latest", Spec: warder.SpecSettings{Network: "net"},
			Quota: warder.Limits{Agents: &agents, RunningAgents: &running, MemoryBytes: &mem},
		},
	})
	alice := mustUser(t, s, "alice")
	var made []*warder.Agent
	for i := range agents {
		a, err := s.Agents.CreateAgent(ctx, alice, warder.AgentCreate{Name: fmt.Sprintf("a%d", i), ContainerConfig: warder.ContainerConfig{MemoryLimit: "32m"}})
		if err != nil {
			t.Fatalf("create %d of %d: %v", i+1, agents, err)
		}
		made = append(made, a)
	}
	if _, err := s.Agents.CreateAgent(ctx, alice, warder.AgentCreate{Name: "one-too-many"}); !errors.Is(err, warder.ErrConflict) || !strings.Contains(err.Error(), "12 agents of 12") {
		t.Fatalf("create over the agents quota: %v", err)
	}
	for _, a := range made[:2] {
		if _, err := s.Agents.StartAgent(ctx, alice, a.ID); err != nil {
			t.Fatalf("start within quota: %v", err)
		}
	}
	if _, err := s.Agents.StartAgent(ctx, alice, made[2].ID); !errors.Is(err, warder.ErrConflict) || !strings.Contains(err.Error(), "running_agents") {
		t.Fatalf("start over the running quota: %v", err)
	}
	for _, f := range rec.take() {
		if len(f.Statuses) == 0 {
			t.Errorf("a create or start listed agents with %+v: the whole list", f)
		}
	}
	u, err := s.Admin.Usage(ctx, alice, "")
	if err != nil || u.Used.Agents != 12 || u.Used.RunningAgents != 2 || u.Used.MemoryBytes != 64<<20 {
		t.Fatalf("usage = %+v, %v", u.Used, err)
	}
}

// TestQuotaStartReadsWhatLimitsNeed: a start reads the owner's running
// agents only for a memory or CPU quota; a running-agents quota alone is
// checked with a count, and an owner without running quotas has nothing
// read at all. Each limit still holds.
func TestQuotaStartReadsWhatLimitsNeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	two, none, zero64, zeroF, mem := 2, 0, int64(0), 0.0, int64(80<<20)
	for _, c := range []struct {
		name    string
		quota   warder.Limits
		lists   bool   // a start reads the running agents
		refusal string // the third start's error, "" for none
	}{
		{"unlimited", warder.Limits{Agents: &none, RunningAgents: &none, MemoryBytes: &zero64, CPUs: &zeroF}, false, ""},
		{"running only", warder.Limits{RunningAgents: &two}, false, "running_agents"},
		{"memory", warder.Limits{MemoryBytes: &mem}, true, "memory_bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := sqlstore.OpenSQLite(ctx, t.TempDir()+"/warder.db", sqlstore.SyncNormal)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			rec := &listRecorder{Store: db}
			s := New(rec, runtimetest.NewFake(db, 20000, 20009), Config{
				ExclusiveStore: true,
				Lifecycle:      AgentsConfig{DefaultImage: "warder/agent:latest", Spec: warder.SpecSettings{Network: "net"}, Quota: c.quota},
			})
			alice := mustUser(t, s, "alice")
			var made []*warder.Agent
			for i := range 3 {
				a, err := s.Agents.CreateAgent(ctx, alice, warder.AgentCreate{Name: fmt.Sprintf("a%d", i), ContainerConfig: warder.ContainerConfig{MemoryLimit: "32m"}})
				if err != nil {
					t.Fatal(err)
				}
				made = append(made, a)
			}
			rec.take()
			for i, a := range made {
				_, err := s.Agents.StartAgent(ctx, alice, a.ID)
				switch {
				case i < 2 && err != nil:
					t.Fatalf("start %d within quota: %v", i+1, err)
				case i == 2 && c.refusal == "" && err != nil:
					t.Fatalf("start %d with no running quota: %v", i+1, err)
				case i == 2 && c.refusal != "" && (!errors.Is(err, warder.ErrConflict) || !strings.Contains(err.Error(), c.refusal)):
					t.Fatalf("start %d over the %s quota: %v", i+1, c.refusal, err)
				}
			}
			running := 0
			for _, f := range rec.take() {
				if len(f.Statuses) == 0 {
					t.Errorf("a start listed agents with %+v: the whole list", f)
				} else {
					running++
				}
			}
			if c.lists != (running > 0) {
				t.Errorf("the starts read the running agents %d times; want reads: %v", running, c.lists)
			}
		})
	}
}
