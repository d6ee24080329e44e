package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MustOpenSQLite opens a fresh SQLite store in a temporary directory, closed
// when the test ends.
func MustOpenSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "sub", "warder.db"), SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLite(t *testing.T) { runStoreSuite(t, MustOpenSQLite) }

// TestSQLitePlaceholders pins down that the driver binds $N by number, not
// by order of appearance, so queries can be written once for PostgreSQL.
func TestSQLitePlaceholders(t *testing.T) {
	db := MustOpenSQLite(t)
	var got string
	err := db.db.QueryRowContext(context.Background(), `SELECT $2 || $1 || $2`, "a", "b").Scan(&got)
	wantNoErr(t, err)
	if got != "bab" {
		t.Fatalf("SELECT $2 || $1 || $2 with (a, b) = %q, want bab", got)
	}
}

// TestSQLitePragmas checks that every pooled connection, not only the
// first, runs with the settings the concurrency guarantees rest on.
func TestSQLitePragmas(t *testing.T) {
	db := MustOpenSQLite(t)
	ctx := context.Background()
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		c, err := db.db.Conn(ctx)
		wantNoErr(t, err)
		conns[i] = c
		for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
			var got string
			wantNoErr(t, c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
			if got != want {
				t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, pragma, got, want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestSQLiteSynchronous checks that every pooled connection commits as
// configured: SQLite answers PRAGMA synchronous with 2 for FULL, 1 for
// NORMAL.
func TestSQLiteSynchronous(t *testing.T) {
	ctx := context.Background()
	for sync, want := range map[Synchronous]string{SyncFull: "2", SyncNormal: "1"} {
		db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "warder.db"), sync)
		wantNoErr(t, err)
		conns := make([]*sql.Conn, 2)
		for i := range conns {
			c, err := db.db.Conn(ctx)
			wantNoErr(t, err)
			conns[i] = c
			var got string
			wantNoErr(t, c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got))
			if got != want {
				t.Errorf("%s, connection %d: PRAGMA synchronous = %s, want %s", sync, i, got, want)
			}
		}
		for _, c := range conns {
			c.Close()
		}
		db.Close()
	}
	if _, err := ParseSynchronous("off"); err == nil {
		t.Error(`ParseSynchronous("off") succeeded`)
	}
}

// TestSQLiteTimeText checks the claim the DSN's _time_format rests on:
// stored as text, UTC times with trimmed fractions sort and compare as the
// instants they are.
func TestSQLiteTimeText(t *testing.T) {
	db := MustOpenSQLite(t)
	ctx := context.Background()
	_, err := db.db.ExecContext(ctx, `CREATE TABLE times (at TIMESTAMP NOT NULL)`)
	wantNoErr(t, err)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var want []time.Time
	for _, d := range []time.Duration{0, 500 * time.Millisecond, 50 * time.Millisecond, 1, 999999 * time.Microsecond, time.Second, 10 * time.Microsecond, 100 * time.Millisecond} {
		at := dbTime(base.Add(d))
		want = append(want, at)
		_, err := db.db.ExecContext(ctx, `INSERT INTO times (at) VALUES ($1)`, at)
		wantNoErr(t, err)
	}
	slices.SortFunc(want, time.Time.Compare)
	want = slices.Compact(want)

	rows, err := db.db.QueryContext(ctx, `SELECT DISTINCT at FROM times WHERE at > $1 ORDER BY at`, dbTime(base))
	wantNoErr(t, err)
	defer rows.Close()
	var got []time.Time
	for rows.Next() {
		var at time.Time
		wantNoErr(t, rows.Scan(utcTime{&at}))
		got = append(got, at)
	}
	wantNoErr(t, rows.Err())
	if !slices.Equal(got, want[1:]) {
		t.Fatalf("times after %v, sorted by SQLite:\n%v\nwant\n%v", base, got, want[1:])
	}
}

// TestSQLiteReopen checks that data and schema survive reopening, and that
// a database from a newer warder is refused when opened, naming both
// versions.
func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warder.db")
	db, err := OpenSQLite(ctx, path, SyncFull)
	wantNoErr(t, err)
	u := MustCreateUser(t, db, "alice")
	latest, err := db.SchemaVersion(ctx)
	wantNoErr(t, err)
	wantNoErr(t, db.Close())

	db, err = OpenSQLite(ctx, path, SyncFull)
	wantNoErr(t, err)
	if _, err := db.UserByID(ctx, u.ID); err != nil {
		t.Fatalf("user lost on reopen: %v", err)
	}
	_, err = db.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, latest+1, now())
	wantNoErr(t, err)
	wantNoErr(t, db.Close())

	_, err = OpenSQLite(ctx, path, SyncFull)
	if err == nil {
		t.Fatal("OpenSQLite accepted a database with a newer schema")
	}
	msg := err.Error()
	if !strings.Contains(msg, "version "+strconv.Itoa(latest+1)) || !strings.Contains(msg, "version "+strconv.Itoa(latest)) {
		t.Fatalf("OpenSQLite error %q does not name versions %d and %d", msg, latest+1, latest)
	}
}

// TestSQLiteBadPath checks that paths which would not name one shared
// database file are refused rather than silently misused.
func TestSQLiteBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "a?b.db"} {
		if _, err := OpenSQLite(context.Background(), p, SyncFull); err == nil {
			t.Errorf("OpenSQLite(%q) succeeded", p)
		}
	}
}

// TestSQLiteConcurrentOpen opens one new database from several handles at
// once, as two warder processes starting together would: every open must
// succeed, and each migration must be applied once.
func TestSQLiteConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warder.db")
	const n = 8
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = OpenSQLite(ctx, path, SyncFull) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	migs, err := loadMigrations(dbs[0].dialect.migrations)
	wantNoErr(t, err)
	var rows int
	wantNoErr(t, dbs[0].db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows))
	if rows != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(migs))
	}
}
