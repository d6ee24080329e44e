package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/warder/warder"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteFiles embed.FS

// sqliteDialect is SQLite through modernc.org/sqlite. The driver runs with
// extended result codes, so a unique violation is told apart from a foreign
// key one by code alone.
var sqliteDialect = dialect{
	name:       "sqlite",
	scrub:      checkpointTruncate,
	migrations: mustSub(sqliteFiles, "migrations/sqlite"),
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMP NOT NULL
	)`,
	violation: func(err error) violation {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return violation{}
		}
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return violation{kind: uniqueViolation}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return violation{kind: foreignKeyViolation}
		}
		return violation{}
	},
}

// sqliteDriver is the name modernc.org/sqlite registers with database/sql.
const sqliteDriver = "sqlite"

// busyTimeout is how long a connection waits for another's write lock
// before giving up with SQLITE_BUSY. Writes are short, so only a stuck
// process could hold the lock this long.
const busyTimeout = 10 * time.Second

// sqliteMaxIdleConns and sqliteConnMaxIdleTime bound the connections kept
// open between requests: enough for a burst of concurrent requests, closed
// again after a quiet minute.
const (
	sqliteMaxIdleConns    = 64
	sqliteConnMaxIdleTime = time.Minute
)

// Synchronous is how an SQLite commit waits for the disk (SQLite's
// synchronous pragma, in WAL mode).
type Synchronous string

const (
	// SyncFull makes every commit wait for an fsync of the write-ahead
	// log: a commit that returned survives power loss. SQLite's default.
	SyncFull Synchronous = "full"
	// SyncNormal lets a commit return before the log reaches the disk; the
	// log is fsynced at each checkpoint. The database is never corrupted,
	// and a commit survives Warder being killed, but the last commits
	// before a power loss or kernel crash may be lost.
	SyncNormal Synchronous = "normal"
)

// ParseSynchronous reads a Synchronous by name; "" is SyncFull.
func ParseSynchronous(s string) (Synchronous, error) {
	switch Synchronous(strings.ToLower(s)) {
	case "", SyncFull:
		return SyncFull, nil
	case SyncNormal:
		return SyncNormal, nil
	}
	return "", fmt.Errorf("%q is not full or normal", s)
}

// OpenSQLite opens (creating it and its directory if needed) the SQLite
// database at path and brings its schema up to date; sync says how its
// commits wait for the disk.
//
// The database runs in WAL mode (readers never wait for the writer), with
// foreign keys enforced and a busy timeout, and transactions begin
// IMMEDIATE: a transaction takes the write lock when it starts, so two
// transactions never both read and then both want to write, the deadlock
// SQLite breaks by answering SQLITE_BUSY at once instead of waiting.
func OpenSQLite(ctx context.Context, path string, sync Synchronous) (*DB, error) {
	dsn, err := sqliteDSN(path, sync)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
	}
	if err := enableWAL(ctx, dsn); err != nil {
		return nil, warder.Errorf(warder.ErrUnavailable, "database unavailable: enable WAL on %s: %v", path, err)
	}
	sqldb, err := sql.Open(sqliteDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	// A new connection reads and parses the whole schema before its first
	// query. database/sql keeps only two idle connections by default, so
	// under concurrent requests most queries paid for opening a connection
	// (docs/benchmarks.md, API throughput). Open connections stay uncapped:
	// a cap could deadlock a transaction that reads outside itself.
	sqldb.SetMaxIdleConns(sqliteMaxIdleConns)
	sqldb.SetConnMaxIdleTime(sqliteConnMaxIdleTime)
	return open(ctx, &DB{db: sqldb, dialect: sqliteDialect})
}

// sqliteDSN builds the modernc.org/sqlite data source name for path. It
// leaves out journal_mode, which enableWAL sets once in the file.
func sqliteDSN(path string, sync Synchronous) (string, error) {
	// The driver cuts the DSN at the first '?', and a path that is empty or
	// names memory would give each pooled connection its own database.
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, ":") || strings.HasPrefix(path, "file:") {
		return "", fmt.Errorf("sqlstore: %q is not a usable SQLite database path", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	switch sync {
	case SyncFull, "":
		q.Add("_pragma", "synchronous(FULL)")
	case SyncNormal:
		q.Add("_pragma", "synchronous(NORMAL)")
	default:
		return "", fmt.Errorf("sqlstore: unknown synchronous setting %q", sync)
	}
	// Freed space in the file is zeroed, so an overwritten or deleted
	// secret is not left behind in a page; see checkpointTruncate.
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate")
	// Times are written as "2006-01-02 15:04:05.999999999-07:00", always in
	// UTC (see dbTime), so they compare correctly as text, which is how
	// SQLite compares them in WHERE and ORDER BY: '+' sorts before '.' and
	// the digits. The driver's default, time.String, appends a zone name.
	q.Set("_time_format", "sqlite")
	return path + "?" + q.Encode(), nil
}

// enableWAL switches the database file to WAL mode, which the file then
// keeps for every later connection. It is done once here rather than by a
// pragma on each new connection because converting a new file is a read
// that turns into a write: when two processes (or pooled connections)
// convert it at once, SQLite fails one with SQLITE_BUSY without waiting,
// so this retries until the busy timeout.
func enableWAL(ctx context.Context, dsn string) error {
	db, err := sql.Open(sqliteDriver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(busyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil {
			if mode != "wal" {
				return fmt.Errorf("journal mode is %q; the file system may not support WAL", mode)
			}
			return nil
		}
		var e *sqlite.Error
		if !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// mustSub returns the subdirectory dir of an embedded tree; it panics only
// if the go:embed pattern above and dir disagree, which no test run misses.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// checkpointTruncate copies the write-ahead log into the database file and
// empties it. The log keeps every page as it was written, an overwritten
// sealed secret too, until a checkpoint; with secure_delete the file then
// holds only the current value. It waits for readers up to the busy
// timeout.
func checkpointTruncate(ctx context.Context, db *sql.DB) error {
	var busy, logged, done int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &done); err != nil {
		return fmt.Errorf("sqlstore: checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("sqlstore: checkpoint: readers kept the log from being emptied")
	}
	return nil
}
