// Package sqlstore implements warder.Store on database/sql. SQLite
// (modernc.org/sqlite, pure Go) is the embedded default and PostgreSQL
// (github.com/jackc/pgx/v5) the production store; the queries are written
// once in a form both accept ($1 placeholders, standard types, RETURNING),
// so a dialect adds only its migrations, locks and error checks.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warder/warder"
)

var _ warder.Store = (*DB)(nil)

// DB is a warder.Store backed by a SQL database. It is safe for concurrent
// use, as the *sql.DB it wraps.
type DB struct {
	db      *sql.DB
	dialect dialect
	// pg is how to open a connection of its own outside the pool (the
	// feed's LISTEN, the leadership lease); nil on SQLite.
	pg *pgx.ConnConfig
	// slots bounds the pool connections Lock holds at once (half the
	// pool), so the work done under the locks always finds a connection.
	slotsOnce sync.Once
	slots     chan struct{}
	// stmts are the hot reads' prepared statements (SQLite only).
	stmts statements
	// decoded keeps agents' JSON columns decoded, by their text.
	decoded decodedCache
	// rows keeps agent rows for CachedAgent.
	rows rowCache
}

// open checks that the database behind db answers and brings its schema up
// to date; every Open* function ends here. It closes db on failure.
func open(ctx context.Context, db *DB) (*DB, error) {
	if err := db.Ping(ctx); err != nil {
		db.db.Close()
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.db.Close()
		return nil, err
	}
	return db, nil
}

// Ping reports whether the database answers; a failure wraps
// warder.ErrUnavailable so the API can answer 503.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return warder.Errorf(warder.ErrUnavailable, "database unavailable: %v", err)
	}
	return nil
}

// classify replaces *err, when the dialect says it means the database
// could not be reached, with an error wrapping warder.ErrUnavailable, so
// the API answers 503 whichever method met the outage; and when it is the
// database refusing a value it cannot store, with one wrapping
// warder.ErrInvalid (a 400: the same request would fail again). Every
// exported method defers it on its result; errors that already carry a
// kind pass unchanged.
func (db *DB) classify(err *error) {
	e := *err
	if e == nil || warder.ErrorMessage(e) != "" {
		return
	}
	switch {
	case db.dialect.down != nil && db.dialect.down(e):
		*err = warder.Errorf(warder.ErrUnavailable, "database unavailable: %v", e)
	case db.dialect.badValue != nil && db.dialect.badValue(e):
		*err = warder.Errorf(warder.ErrInvalid, "a value cannot be stored: it holds a NUL character or bytes that are not UTF-8, or is too long")
	}
}

// Close closes the database. Calls made after Close fail.
func (db *DB) Close() error {
	db.stmts.close()
	return db.db.Close()
}

// querier is what *sql.DB and *sql.Tx have in common, so read helpers work
// inside and outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// now is the time the store stamps on rows, already in the form it is
// stored in.
func now() time.Time { return dbTime(time.Now()) }

// dbTime normalises t to what survives a round trip through either dialect:
// UTC (SQLite keeps no zone, PostgreSQL converts anyway) and microseconds
// (PostgreSQL's resolution). Without it, what a caller holds after a write
// would differ from what it reads back.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// utcTime scans a time column into *t in UTC: drivers hand times back in
// time.Local or in a fixed zone that merely equals UTC.
type utcTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (u utcTime) Scan(src any) error {
	v, ok := src.(time.Time)
	if !ok {
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	*u.t = v.UTC()
	return nil
}
