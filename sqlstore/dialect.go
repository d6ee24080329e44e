package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
)

// dialect is what differs between the databases the store runs on. The
// queries themselves are shared; see the package comment.
type dialect struct {
	name string // for messages: "sqlite", "postgres"
	// migrations holds the numbered NNNN_name.sql files at its root. Tests
	// swap it for a tree of their own to exercise failing migrations.
	migrations fs.FS
	// migrationsTable creates the schema_migrations table if it is missing.
	// It is not a numbered migration because it records them.
	migrationsTable string
	// migrationLock, run first in every transaction that reads or changes
	// the schema, makes processes migrating one database at once take
	// turns; "" where beginning a transaction already does (SQLite).
	migrationLock string
	// firstUserLock, run first in CreateFirstUser's transaction, makes
	// racing first users take turns, so the check for existing users sees
	// every earlier insert; "" where beginning a transaction already does.
	firstUserLock string
	// violation tells which constraint, if any, err violated.
	violation func(err error) violation
	// down reports whether err means the database could not be reached (as
	// opposed to the database refusing the statement); nil when the
	// database is a local file that cannot go away.
	down func(err error) bool
	// badValue reports whether err is the database refusing a value it
	// cannot store as text (a NUL, bytes that are not UTF-8, a key too
	// long to index); nil: it takes any.
	badValue func(err error) bool
	// scrub, where set, makes what was overwritten or deleted unreadable
	// from the database's files; it runs after a write that replaced or
	// deleted sealed secrets. nil where the files are not Warder's (a
	// PostgreSQL server's data directory is its operator's to protect).
	scrub func(ctx context.Context, db *sql.DB) error
	// shared means processes may share the database (PostgreSQL): status
	// changes go to the status_feed table too, with a notification, and
	// Lock takes a lock every process sees.
	shared bool
	// forUpdate, appended to a SELECT in a transaction, locks the rows it
	// reads; "" where the transaction already holds the write lock.
	forUpdate string
}

// constraint is a kind of constraint violation, told apart by the driver's
// typed error code rather than by its text.
type constraint string

const (
	uniqueViolation     constraint = "unique"
	foreignKeyViolation constraint = "foreign key"
)

// violation is a constraint violation: its kind, and the name of the
// constraint when the driver reports it (PostgreSQL does, SQLite does not).
type violation struct {
	kind constraint
	name string
}

// Names of the unique constraints a concurrent writer can trip over, as the
// PostgreSQL migrations name them. They let the loser of a race get the
// message its pre-check would have given (SQLite needs no names: its
// transactions take the write lock as they begin, so the pre-checks see
// every earlier write).
const (
	uniqueUsername  = "users_username_unique"
	uniqueEmail     = "users_email_unique"
	uniqueAgentName = "agents_user_name_unique"
	uniqueHostPort  = "agents_host_port_unique"
)

// violation reports which constraint err violated; the zero violation when
// err is not a constraint violation the store turns into a warder error.
func (db *DB) violation(err error) violation {
	if err == nil {
		return violation{}
	}
	return db.dialect.violation(err)
}

// isUnique reports whether err is a unique or primary-key violation.
func (db *DB) isUnique(err error) bool { return db.violation(err).kind == uniqueViolation }

// isForeignKey reports whether err is a foreign-key violation.
func (db *DB) isForeignKey(err error) bool { return db.violation(err).kind == foreignKeyViolation }
