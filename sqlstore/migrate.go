package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// Migrate applies, in order, every embedded migration the database has not
// recorded yet, each in its own transaction, so a failing one leaves the
// schema as the previous one left it. It is idempotent and safe to run from
// several processes at once: each migration transaction first takes the
// dialect's migration lock (on SQLite, beginning it takes the write lock),
// then checks again whether the migration is still to be applied. A
// database whose schema is newer than this build knows is refused rather
// than used with queries that may not fit it.
func (db *DB) Migrate(ctx context.Context) (err error) {
	defer db.classify(&err)
	migs, err := loadMigrations(db.dialect.migrations)
	if err != nil {
		return err
	}
	current, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if latest := len(migs); current > latest {
		return fmt.Errorf("sqlstore: the database schema is at version %d, newer than version %d, the newest this build of warder knows; run a newer warder", current, latest)
	}
	for _, m := range migs[current:] {
		if err := db.apply(ctx, m); err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// apply runs m and records it, unless another process did so first.
func (db *DB) apply(ctx context.Context, m migration) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := db.lockMigrations(ctx, tx); err != nil {
		return err
	}
	var n int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil // another process applied it since Migrate looked
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.version, now())
	if err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the newest migration recorded in the database, 0
// for an empty one. It creates the schema_migrations table if need be,
// under the migration lock: PostgreSQL's CREATE TABLE IF NOT EXISTS is not
// safe against itself, two at once can both fail with a duplicate key.
func (db *DB) SchemaVersion(ctx context.Context) (v int, err error) {
	defer db.classify(&err)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockMigrations(ctx, tx); err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.dialect.migrationsTable); err != nil {
		return 0, fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return v, nil
}

// lockMigrations takes the dialect's migration lock for the rest of tx. A
// transaction-scoped lock rather than one held across the whole run: it
// is released by commit or rollback whatever happens, even when the
// connection dies, so no pooled connection can keep it by mistake.
func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.dialect.migrationLock == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, db.dialect.migrationLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return nil
}

// loadMigrations reads the NNNN_name.sql files of fsys, which must be
// numbered 1, 2, 3, … without gaps, so a lost file cannot go unnoticed.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries { // ReadDir sorts by name, so by number
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != len(migs)+1 {
			return nil, fmt.Errorf("sqlstore: migration %s: want a name starting %04d_", e.Name(), len(migs)+1)
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read migration %s: %w", e.Name(), err)
		}
		migs = append(migs, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return migs, nil
}
