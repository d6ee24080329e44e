package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warder/warder"
)

// CreateAPIKey stores k, setting k.CreatedAt. A user or parent key that
// does not exist (a parent revoked meanwhile) is ErrNotFound.
func (db *DB) CreateAPIKey(ctx context.Context, k *warder.APIKey) (err error) {
	defer db.classify(&err)
	k.CreatedAt = now()
	var expires, parent any
	if k.ExpiresAt != nil {
		t := dbTime(*k.ExpiresAt)
		k.ExpiresAt, expires = &t, t
	}
	if k.ParentID != "" {
		parent = k.ParentID
	}
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO api_keys (id, user_id, name, hash, prefix, read_only, expires_at, created_at, parent_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.UserID, k.Name, k.Hash, k.Prefix, k.ReadOnly, expires, k.CreatedAt, parent)
	switch {
	case db.isForeignKey(err) && k.ParentID != "":
		return warder.Errorf(warder.ErrNotFound, "the API key this key would be made with no longer exists")
	case db.isForeignKey(err):
		return warder.Errorf(warder.ErrNotFound, "user not found")
	case err != nil:
		return fmt.Errorf("sqlstore: create api key: %w", err)
	}
	return nil
}

const keyColumns = `k.id, k.user_id, k.name, k.prefix, k.read_only, k.expires_at, k.created_at, k.last_used_at, k.hash, k.parent_id`

func scanKey(scan func(...any) error) (*warder.APIKey, error) {
	var k warder.APIKey
	var expires, used time.Time
	var parent sql.NullString
	if err := scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.ReadOnly, nullUTCTime{&expires},
		utcTime{&k.CreatedAt}, nullUTCTime{&used}, &k.Hash, &parent); err != nil {
		return nil, err
	}
	k.ParentID = parent.String
	if !expires.IsZero() {
		k.ExpiresAt = &expires
	}
	if !used.IsZero() {
		k.LastUsedAt = &used
	}
	return &k, nil
}

// APIKeys lists the user's keys, oldest first.
func (db *DB) APIKeys(ctx context.Context, userID string) (_ []*warder.APIKey, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.user_id = $1 ORDER BY k.created_at, k.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list api keys: %w", err)
	}
	defer rows.Close()
	keys := []*warder.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list api keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list api keys: %w", err)
	}
	return keys, nil
}

// DeleteAPIKey revokes the user's key, or returns ErrNotFound (also for
// another user's key). The foreign key on parent_id deletes the keys made
// with it, recursively, in the same statement.
func (db *DB) DeleteAPIKey(ctx context.Context, userID, id string) (err error) {
	defer db.classify(&err)
	res, err := db.db.ExecContext(ctx, `DELETE FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete api key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: delete api key: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "api key not found")
	}
	return nil
}

// UserByAPIKey returns the key with the given hash and its enabled owner
// if it has not expired by now, recording the use.
func (db *DB) UserByAPIKey(ctx context.Context, hash string, now time.Time) (_ *warder.User, _ *warder.APIKey, err error) {
	defer db.classify(&err)
	row := db.queryRow(ctx, `
		SELECT `+keyColumns+`, `+userColumns+`
		FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.hash = $1 AND (k.expires_at IS NULL OR k.expires_at > $2) AND NOT u.disabled`, hash, dbTime(now))
	var u warder.User
	k, err := scanKey(func(dest ...any) error {
		return row.Scan(append(dest, userDest(&u)...)...)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, warder.Errorf(warder.ErrNotFound, "api key not found or expired")
	} else if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: read api key: %w", err)
	}
	// A busy key is written at most once a minute, and a read that finds
	// it used within the minute writes nothing: on SQLite even an UPDATE
	// that changes no row takes the database's one write lock, which
	// would queue every request made with a key behind every other write.
	stale := now.Add(-time.Minute)
	if k.LastUsedAt != nil && !k.LastUsedAt.Before(stale) {
		return &u, k, nil
	}
	if _, err := db.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`,
		dbTime(now), k.ID, dbTime(stale)); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: record api key use: %w", err)
	}
	return &u, k, nil
}
