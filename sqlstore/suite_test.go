package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/warder/warder"
)

// opener returns a fresh, migrated, empty store that is closed when the
// test ends. Each dialect's test provides one and runs runStoreSuite.
type opener func(t *testing.T) *DB

// runStoreSuite checks every promise of warder.Store that a dialect must
// keep. Each subtest opens its own empty database.
func runStoreSuite(t *testing.T, open opener) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("RefreshTokens", func(t *testing.T) { testRefreshTokens(t, open) })
	t.Run("KnowledgeBase", func(t *testing.T) { testKnowledgeBase(t, open) })
	t.Run("Agents", func(t *testing.T) { testAgents(t, open) })
	t.Run("CachedAgent", func(t *testing.T) { testCachedAgent(t, open) })
	t.Run("Listing", func(t *testing.T) { testListing(t, open) })
	t.Run("Ports", func(t *testing.T) { testPorts(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, open) })
	t.Run("Ping", func(t *testing.T) { testPing(t, open) })
	t.Run("Status", func(t *testing.T) { testStatus(t, open) })
	t.Run("Security", func(t *testing.T) { testSecurity(t, open) })
	t.Run("KeyLineage", func(t *testing.T) { testKeyLineage(t, open) })
	t.Run("InitialUser", func(t *testing.T) { testInitialUser(t, open) })
	t.Run("Conversations", func(t *testing.T) { testConversations(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("StrayBytes", func(t *testing.T) { testStrayBytes(t, open) })
	t.Run("LLMUsage", func(t *testing.T) { testLLMUsage(t, open) })
}

// MustCreateUser creates a user named name (email name@example.com).
func MustCreateUser(tb testing.TB, db *DB, name string) *warder.User {
	tb.Helper()
	u := &warder.User{Username: name, Email: name + "@example.com", PasswordHash: "hash-" + name}
	if err := db.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// MustCreateAgent creates an agent of userID named name.
func MustCreateAgent(tb testing.TB, db *DB, userID, name string) *warder.Agent {
	tb.Helper()
	a := &warder.Agent{UserID: userID, Name: name, Type: "test"}
	if err := db.CreateAgent(context.Background(), a); err != nil {
		tb.Fatalf("CreateAgent(%q): %v", name, err)
	}
	return a
}

// wantErr fails unless err wraps kind and, when msg is not empty, carries
// exactly msg as its caller-facing message.
func wantErr(tb testing.TB, err, kind error, msg string) {
	tb.Helper()
	if !errors.Is(err, kind) {
		tb.Fatalf("error = %v, want one wrapping %v", err, kind)
	}
	if got := warder.ErrorMessage(err); msg != "" && got != msg {
		tb.Fatalf("error message = %q, want %q", got, msg)
	}
	if warder.ErrorMessage(err) == "" {
		tb.Fatalf("error %v has no caller-facing message", err)
	}
}

// wantNoErr fails the test on err.
func wantNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func testPing(t *testing.T, open opener) {
	db := open(t)
	ctx := context.Background()
	wantNoErr(t, db.Ping(ctx))
	wantNoErr(t, db.Close())
	err := db.Ping(ctx)
	wantErr(t, err, warder.ErrUnavailable, "")
	if !strings.HasPrefix(err.Error(), "database unavailable: ") {
		t.Errorf("Ping after Close = %q, want it to start with %q", err, "database unavailable: ")
	}
}

func testMigrations(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("Idempotent", func(t *testing.T) {
		db := open(t)
		migs, err := loadMigrations(db.dialect.migrations)
		wantNoErr(t, err)
		for range 2 {
			wantNoErr(t, db.Migrate(ctx))
			v, err := db.SchemaVersion(ctx)
			wantNoErr(t, err)
			if v != len(migs) || v < 1 {
				t.Fatalf("SchemaVersion = %d, want %d", v, len(migs))
			}
		}
		var n int
		wantNoErr(t, db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
		if n != len(migs) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(migs))
		}
	})
	t.Run("NewerSchemaRefused", func(t *testing.T) {
		db := open(t)
		latest, err := db.SchemaVersion(ctx)
		wantNoErr(t, err)
		_, err = db.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, 999, now())
		wantNoErr(t, err)
		err = db.Migrate(ctx)
		if err == nil {
			t.Fatal("Migrate on a newer schema succeeded")
		}
		for _, want := range []string{"999", strconv.Itoa(latest)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Migrate error %q does not name version %s", err, want)
			}
		}
		if errors.Is(err, warder.ErrUnavailable) {
			t.Errorf("Migrate error %v wraps ErrUnavailable; it is not a transient failure", err)
		}
	})
	t.Run("FailedLeavesNothing", func(t *testing.T) {
		db := open(t)
		migs, err := loadMigrations(db.dialect.migrations)
		wantNoErr(t, err)
		// A next migration whose first statement works and whose second
		// fails: only a transaction can undo the first.
		create := `CREATE TABLE half_done (id TEXT PRIMARY KEY)`
		broken := fmt.Sprintf("%04d_broken.sql", len(migs)+1)
		fsys := migrationsFS(t, db.dialect.migrations)
		fsys[broken] = &fstest.MapFile{Data: []byte(create + ";\nINSERT INTO no_such_table VALUES (1);\n")}
		err = withMigrations(db, fsys).Migrate(ctx)
		if err == nil || !strings.Contains(err.Error(), broken) {
			t.Fatalf("Migrate with a broken migration = %v, want an error naming %s", err, broken)
		}
		if errors.Is(err, warder.ErrUnavailable) {
			t.Errorf("Migrate error %v wraps ErrUnavailable; a broken migration is no outage", err)
		}
		v, err := db.SchemaVersion(ctx)
		wantNoErr(t, err)
		if v != len(migs) {
			t.Fatalf("SchemaVersion after the failed migration = %d, want %d", v, len(migs))
		}
		// Creating the table again succeeds only if the failed one left none.
		_, err = db.db.ExecContext(ctx, create)
		wantNoErr(t, err)
	})
	t.Run("NumberedWithoutGaps", func(t *testing.T) {
		migs, err := loadMigrations(open(t).dialect.migrations)
		wantNoErr(t, err)
		for i, m := range migs {
			if m.version != i+1 || strings.TrimSpace(m.sql) == "" {
				t.Errorf("migration %d is %s (version %d), empty=%v", i, m.name, m.version, strings.TrimSpace(m.sql) == "")
			}
		}
	})
}

// migrationsFS copies the migrations of fsys into a tree a test may add to.
func migrationsFS(tb testing.TB, fsys fs.FS) fstest.MapFS {
	tb.Helper()
	migs, err := loadMigrations(fsys)
	wantNoErr(tb, err)
	out := fstest.MapFS{}
	for _, m := range migs {
		out[m.name] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	return out
}

// withMigrations returns a handle on db's database that migrates from fsys.
func withMigrations(db *DB, fsys fs.FS) *DB {
	d := db.dialect
	d.migrations = fsys
	return &DB{db: db.db, dialect: d}
}
