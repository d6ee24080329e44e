package sqlstore

import (
	"context"
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
// recorded yet, each in its own transaction. It is idempotent and safe to
// run from two processes at once on SQLite, whose transactions take the
// write lock as they begin. A database whose schema is newer than this
// build knows is refused rather than used with queries that may not fit it.
func (db *DB) Migrate(ctx context.Context) error {
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
// for an empty one.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	if _, err := db.db.ExecContext(ctx, db.dialect.migrationsTable); err != nil {
		return 0, fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	var v int
	err := db.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return v, nil
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
