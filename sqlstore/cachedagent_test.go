package sqlstore

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// mustServeCached makes db serve CachedAgent from memory, for the rest of
// the test, with a TTL long enough that only a forget can make a row
// fresh within a test: on PostgreSQL that takes the feed's listener,
// which it runs until the test ends.
func mustServeCached(t *testing.T, db *DB) {
	t.Helper()
	db.rows.ttl = time.Hour
	if !db.dialect.shared {
		return
	}
	feed, err := db.Feed(context.Background(), slog.Default())
	wantNoErr(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { feed.Run(ctx, func(warder.StatusChange) {}) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(t, "the feed's listener", func() bool { return listeners(db) > 0 })
}

// listeners is db's count of live LISTENs.
func listeners(db *DB) int {
	db.rows.mu.Lock()
	defer db.rows.mu.Unlock()
	return db.rows.listeners
}

// waitFor polls ok until it holds, failing after 10 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// mustCache reads agent id through CachedAgent until the cache serves it,
// and returns the cached row; a test whose rows are never cached would
// prove nothing.
func mustCache(t *testing.T, db *DB, id string) *warder.Agent {
	t.Helper()
	ctx := context.Background()
	for range 2 {
		_, err := db.CachedAgent(ctx, id)
		wantNoErr(t, err)
	}
	db.rows.mu.Lock()
	e := db.rows.m[id]
	db.rows.mu.Unlock()
	if e == nil || e.agent == nil {
		t.Fatalf("agent %s is not cached after two reads", id)
	}
	return e.agent
}

// testCachedAgent: whichever method writes an agent, the next
// CachedAgent sees the write, and no caller can change a cached row.
func testCachedAgent(t *testing.T, open opener) {
	ctx := context.Background()
	writes := []struct {
		name  string
		write func(db *DB, a *warder.Agent) error
		check func(got *warder.Agent) bool // nil: the agent is gone
	}{
		{"UpdateAgent", func(db *DB, a *warder.Agent) error {
			a.Description = "edited"
			return db.UpdateAgent(ctx, a)
		}, func(got *warder.Agent) bool { return got.Description == "edited" }},
		{"RecordStatus", func(db *DB, a *warder.Agent) error {
			ev := &warder.AgentEvent{AgentID: a.ID, At: time.Now(), From: a.Status, To: warder.StatusRunning}
			a.Status = warder.StatusRunning
			return db.RecordStatus(ctx, a, ev)
		}, func(got *warder.Agent) bool { return got.Status == warder.StatusRunning }},
		{"TouchAgent", func(db *DB, a *warder.Agent) error {
			return db.TouchAgent(ctx, a.ID, time.Now())
		}, func(got *warder.Agent) bool { return !got.LastUsedAt.IsZero() }},
		{"ClaimPort", func(db *DB, a *warder.Agent) error {
			return db.ClaimPort(ctx, a.ID, 40123)
		}, func(got *warder.Agent) bool { return got.HostPort == 40123 }},
		{"ReleasePort", func(db *DB, a *warder.Agent) error {
			wantNoErr(t, db.ClaimPort(ctx, a.ID, 40124))
			mustCache(t, db, a.ID)
			return db.ReleasePort(ctx, a.ID)
		}, func(got *warder.Agent) bool { return got.HostPort == 0 }},
		{"ResealSecrets", func(db *DB, a *warder.Agent) error {
			return db.ResealSecrets(ctx, a.ID, a.SealedSecrets, "v2:resealed")
		}, func(got *warder.Agent) bool { return got.SealedSecrets == "v2:resealed" }},
		{"DeleteAgent", func(db *DB, a *warder.Agent) error {
			return db.DeleteAgent(ctx, a.ID)
		}, nil},
		{"RecordDeletion", func(db *DB, a *warder.Agent) error {
			ev := &warder.AgentEvent{AgentID: a.ID, At: time.Now(), From: a.Status, To: warder.StatusDeleted}
			return db.RecordDeletion(ctx, a, ev)
		}, nil},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			db := open(t)
			mustServeCached(t, db)
			a := &warder.Agent{UserID: MustCreateUser(t, db, "alice").ID, Name: "cached", SealedSecrets: "v1:sealed"}
			wantNoErr(t, db.CreateAgent(ctx, a))
			mustCache(t, db, a.ID)
			wantNoErr(t, w.write(db, a))
			got, err := db.CachedAgent(ctx, a.ID)
			if w.check == nil {
				wantErr(t, err, warder.ErrNotFound, "agent not found")
				return
			}
			wantNoErr(t, err)
			if !w.check(got) {
				t.Fatalf("CachedAgent after %s = %+v: the write is not seen", w.name, got)
			}
		})
	}

	t.Run("CreateAfterAMiss", func(t *testing.T) {
		db := open(t)
		mustServeCached(t, db)
		id := uuid.NewString()
		_, err := db.CachedAgent(ctx, id)
		wantErr(t, err, warder.ErrNotFound, "agent not found")
		a := &warder.Agent{ID: id, UserID: MustCreateUser(t, db, "alice").ID, Name: "late"}
		wantNoErr(t, db.CreateAgent(ctx, a))
		got, err := db.CachedAgent(ctx, id)
		wantNoErr(t, err)
		if got.Name != "late" {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("CopiesOut", func(t *testing.T) {
		db := open(t)
		mustServeCached(t, db)
		a := &warder.Agent{UserID: MustCreateUser(t, db, "alice").ID, Name: "shared",
			Config:          map[string]any{"model": "x"},
			ContainerConfig: warder.ContainerConfig{EnvVars: map[string]string{"K": "v"}}}
		wantNoErr(t, db.CreateAgent(ctx, a))
		mustCache(t, db, a.ID)
		got, err := db.CachedAgent(ctx, a.ID)
		wantNoErr(t, err)
		got.Name, got.Config["model"], got.ContainerConfig.EnvVars["K"] = "mine", "mine", "mine"
		again, err := db.CachedAgent(ctx, a.ID)
		wantNoErr(t, err)
		if again.Name != "shared" || again.Config["model"] != "x" || again.ContainerConfig.EnvVars["K"] != "v" {
			t.Fatalf("a caller's change reached the cache: %+v", again)
		}
	})
}
