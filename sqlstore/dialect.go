package sqlstore

import "io/fs"

// dialect is what differs between the databases the store runs on. The
// queries themselves are shared; see the package comment.
type dialect struct {
	name   string // for messages: "sqlite", "postgres"
	driver string // the database/sql driver name
	// migrations holds the numbered NNNN_name.sql files at its root.
	migrations fs.FS
	// migrationsTable creates the schema_migrations table if it is missing.
	// It is not a numbered migration because it records them.
	migrationsTable string
	// code maps a driver error to a constraint kind, or to "" when err is
	// not a constraint violation the store turns into a warder error.
	code func(err error) constraint
}

// constraint is a kind of constraint violation, told apart by the driver's
// typed error code rather than by its text.
type constraint string

const (
	uniqueViolation     constraint = "unique"
	foreignKeyViolation constraint = "foreign key"
)

// violation reports which kind of constraint err violated, if any.
func (db *DB) violation(err error) constraint {
	if err == nil {
		return ""
	}
	return db.dialect.code(err)
}

// isUnique reports whether err is a unique or primary-key violation.
func (db *DB) isUnique(err error) bool { return db.violation(err) == uniqueViolation }

// isForeignKey reports whether err is a foreign-key violation.
func (db *DB) isForeignKey(err error) bool { return db.violation(err) == foreignKeyViolation }
