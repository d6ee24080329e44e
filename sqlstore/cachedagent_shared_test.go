package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/warder/warder"
)

// The row cache across processes, on two handles that stand for two
// (see mustOpenTwo): on PostgreSQL a write through one reaches the
// other's cache by notification; on SQLite by the TTL.

// waitSeen polls db.CachedAgent(id) until seen holds of it (or of the
// error), failing after 10 s; it returns how long that took.
func waitSeen(t *testing.T, db *DB, id string, what string, seen func(*warder.Agent, error) bool) time.Duration {
	t.Helper()
	start := time.Now()
	waitFor(t, what, func() bool { return seen(db.CachedAgent(context.Background(), id)) })
	return time.Since(start)
}

// mustTwoReplicas opens two handles on one new PostgreSQL database, a to
// write and b serving CachedAgent from memory, and creates an agent.
func mustTwoReplicas(t *testing.T) (a, b *DB, ag *warder.Agent) {
	t.Helper()
	a, b = mustOpenTwo(t)
	mustServeCached(t, b)
	return a, b, MustCreateAgent(t, a, MustCreateUser(t, a, "alice").ID, "shared")
}

// TestPostgresCachedAgentShared: whichever way one replica writes an
// agent, including SQL that is not Warder's, the other replica's cache
// stops serving the old row without waiting for its TTL (an hour here).
func TestPostgresCachedAgentShared(t *testing.T) {
	t.Parallel()
	a, b, ag := mustTwoReplicas(t)
	ctx := context.Background()
	description := func(want string) func(*warder.Agent, error) bool {
		return func(got *warder.Agent, err error) bool { return err == nil && got.Description == want }
	}
	writes := []struct {
		name  string
		write func() error
		seen  func(*warder.Agent, error) bool
	}{
		{"UpdateAgent", func() error {
			ag.Description = "edited"
			return a.UpdateAgent(ctx, ag)
		}, description("edited")},
		{"RecordStatus", func() error {
			record(t, a, ag, warder.StatusRunning)
			return nil
		}, func(got *warder.Agent, err error) bool { return err == nil && got.Status == warder.StatusRunning }},
		{"TouchAgent", func() error { return a.TouchAgent(ctx, ag.ID, time.Now()) },
			func(got *warder.Agent, err error) bool { return err == nil && !got.LastUsedAt.IsZero() }},
		{"ClaimPort", func() error { return a.ClaimPort(ctx, ag.ID, 40200) },
			func(got *warder.Agent, err error) bool { return err == nil && got.HostPort == 40200 }},
		{"ReleasePort", func() error { return a.ReleasePort(ctx, ag.ID) },
			func(got *warder.Agent, err error) bool { return err == nil && got.HostPort == 0 }},
		{"ResealSecrets", func() error { return a.ResealSecrets(ctx, ag.ID, "", "v2:sealed") },
			func(got *warder.Agent, err error) bool { return err == nil && got.SealedSecrets == "v2:sealed" }},
		{"operator SQL", func() error {
			_, err := a.db.ExecContext(ctx, `UPDATE agents SET description = 'by hand' WHERE id = $1`, ag.ID)
			return err
		}, description("by hand")},
		{"DeleteAgent", func() error { return a.DeleteAgent(ctx, ag.ID) },
			func(_ *warder.Agent, err error) bool { return errors.Is(err, warder.ErrNotFound) }},
	}
	for _, w := range writes {
		mustCache(t, b, ag.ID)
		wantNoErr(t, w.write())
		took := waitSeen(t, b, ag.ID, w.name+" seen by the other replica", w.seen)
		t.Logf("%s: seen by the other replica after %s", w.name, took.Round(time.Microsecond))
	}
}

// TestPostgresCacheListenerLost: a write the cache cannot hear of (its
// trigger disabled) is served stale while the listener is up; when the
// listener's connection is killed, the cache is emptied and bypassed
// until it listens again, and then it caches, and hears, again.
func TestPostgresCacheListenerLost(t *testing.T) {
	t.Parallel()
	a, b, ag := mustTwoReplicas(t)
	ctx := context.Background()
	mustCache(t, b, ag.ID)

	tx, err := a.db.BeginTx(ctx, nil)
	wantNoErr(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`) // no triggers
	wantNoErr(t, err)
	_, err = tx.ExecContext(ctx, `UPDATE agents SET description = 'unheard' WHERE id = $1`, ag.ID)
	wantNoErr(t, err)
	wantNoErr(t, tx.Commit())
	got, err := b.CachedAgent(ctx, ag.ID)
	wantNoErr(t, err)
	if got.Description != "" {
		t.Fatalf("the unheard write was seen (%q): the test cannot tell a flush from a cache that never served", got.Description)
	}

	var killed int
	wantNoErr(t, a.db.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed))
	if killed != 1 {
		t.Fatalf("killed %d listeners, want 1", killed)
	}
	took := waitSeen(t, b, ag.ID, "the write after the listener was lost", func(got *warder.Agent, err error) bool {
		return err == nil && got.Description == "unheard"
	})
	t.Logf("seen %s after the listener was killed", took.Round(time.Millisecond))

	waitFor(t, "the listener to come back", func() bool { return listeners(b) > 0 })
	mustCache(t, b, ag.ID)
	ag.Description = "heard again"
	wantNoErr(t, a.UpdateAgent(ctx, ag))
	waitSeen(t, b, ag.ID, "a write after the listener came back", func(got *warder.Agent, err error) bool {
		return err == nil && got.Description == "heard again"
	})
}

// TestSQLiteCachedAgentTwoProcesses: SQLite has no notifications, so a
// write by another process on the same file (warder rotate-secrets while
// Warder serves) is seen once the cached row's second is up.
func TestSQLiteCachedAgentTwoProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "warder.db")
	open := func() *DB {
		db, err := OpenSQLite(context.Background(), path, SyncFull)
		wantNoErr(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	ag := MustCreateAgent(t, a, MustCreateUser(t, a, "alice").ID, "two")
	mustCache(t, b, ag.ID)
	wantNoErr(t, a.ResealSecrets(context.Background(), ag.ID, "", "v2:other-process"))
	took := waitSeen(t, b, ag.ID, "the other process's write", func(got *warder.Agent, err error) bool {
		return err == nil && got.SealedSecrets == "v2:other-process"
	})
	if took > rowTTL+2*time.Second {
		t.Fatalf("seen after %s; the TTL is %s", took, rowTTL)
	}
}
