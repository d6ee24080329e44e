package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

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
	driver:     "sqlite",
	migrations: mustSub(sqliteFiles, "migrations/sqlite"),
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMP NOT NULL
	)`,
	code: func(err error) constraint {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return ""
		}
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
		return ""
	},
}

// busyTimeoutMillis is how long a connection waits for another's write lock
// before giving up with SQLITE_BUSY. Writes are short, so only a stuck
// process could hold the lock this long.
const busyTimeoutMillis = 10000

// OpenSQLite opens (creating it and its directory if needed) the SQLite
// database at path and brings its schema up to date.
//
// Every connection runs in WAL mode (readers never wait for the writer),
// with foreign keys enforced and a busy timeout, and begins transactions
// IMMEDIATE: a transaction takes the write lock when it starts, so two
// transactions never both read and then fail to upgrade to writing, which
// is the one case SQLite reports as SQLITE_BUSY without waiting.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dsn, err := sqliteDSN(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
	}
	return open(ctx, sqliteDialect, dsn)
}

// sqliteDSN builds the modernc.org/sqlite data source name for path.
func sqliteDSN(path string) (string, error) {
	// The driver cuts the DSN at the first '?', and a path that is empty or
	// names memory would give each pooled connection its own database.
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, ":") || strings.HasPrefix(path, "file:") {
		return "", fmt.Errorf("sqlstore: %q is not a usable SQLite database path", path)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Set("_txlock", "immediate")
	// Times are written as "2006-01-02 15:04:05.999999999-07:00", always in
	// UTC (see dbTime), so they compare correctly as text, which is how
	// SQLite compares them in WHERE and ORDER BY: '+' sorts before '.' and
	// the digits. The driver's default, time.String, appends a zone name.
	q.Set("_time_format", "sqlite")
	return path + "?" + q.Encode(), nil
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
