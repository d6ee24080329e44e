package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/warder/warder"
)

var _ warder.AttemptStore = (*DB)(nil)

// epoch stands for "never" in the throttles table's time columns.
var epoch = time.Unix(0, 0).UTC()

// UpdateAttempts implements warder.AttemptStore in one transaction: each
// key's row is made if missing, then read locked (FOR UPDATE on
// PostgreSQL; SQLite's transactions hold the write lock from BEGIN), in
// key order so that two calls never wait for each other's rows in turn.
func (db *DB) UpdateAttempts(ctx context.Context, keys []string, fn func([]*warder.Attempts) error) (err error) {
	defer db.classify(&err)
	keys = slices.Sorted(slices.Values(keys))
	keys = slices.Compact(keys)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: update attempts: %w", err)
	}
	defer tx.Rollback()
	recs := make([]*warder.Attempts, len(keys))
	for i, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO throttles (key, count, last_at, locked_until) VALUES ($1, 0, $2, $2) ON CONFLICT (key) DO NOTHING`, k, epoch); err != nil {
			return fmt.Errorf("sqlstore: update attempts: %w", err)
		}
		r := &warder.Attempts{Key: k}
		err := tx.QueryRowContext(ctx, `SELECT count, last_at, locked_until FROM throttles WHERE key = $1`+db.dialect.forUpdate, k).
			Scan(&r.Count, utcTime{&r.Last}, utcTime{&r.LockedUntil})
		if err != nil {
			return fmt.Errorf("sqlstore: update attempts: %w", err)
		}
		if r.Last.Equal(epoch) {
			r.Last = time.Time{}
		}
		if r.LockedUntil.Equal(epoch) {
			r.LockedUntil = time.Time{}
		}
		recs[i] = r
	}
	if err := fn(recs); err != nil {
		return err
	}
	for _, r := range recs {
		if r.Count == 0 && r.LockedUntil.IsZero() {
			_, err = tx.ExecContext(ctx, `DELETE FROM throttles WHERE key = $1`, r.Key)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE throttles SET count = $2, last_at = $3, locked_until = $4 WHERE key = $1`,
				r.Key, r.Count, orEpoch(r.Last), orEpoch(r.LockedUntil))
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update attempts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: update attempts: %w", err)
	}
	return nil
}

// ForgetAttempts implements warder.AttemptStore.
func (db *DB) ForgetAttempts(ctx context.Context, before time.Time) (err error) {
	defer db.classify(&err)
	b := dbTime(before)
	if _, err := db.db.ExecContext(ctx, `DELETE FROM throttles WHERE last_at < $1 AND locked_until < $1`, b); err != nil {
		return fmt.Errorf("sqlstore: forget attempts: %w", err)
	}
	return nil
}

func orEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return dbTime(t)
}
