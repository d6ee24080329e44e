package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warder/warder"
)

// CreateRefreshToken stores t, setting t.CreatedAt to the current time.
// A token of a user that does not exist is ErrNotFound.
func (db *DB) CreateRefreshToken(ctx context.Context, t *warder.RefreshToken) (err error) {
	defer db.classify(&err)
	return db.insertRefresh(ctx, db.db, t)
}

func (db *DB) insertRefresh(ctx context.Context, x querier, t *warder.RefreshToken) error {
	t.ExpiresAt = dbTime(t.ExpiresAt)
	t.CreatedAt = now()
	_, err := x.ExecContext(ctx, `
		INSERT INTO refresh_tokens (hash, user_id, family, access_hash, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.UserID, t.Family, t.AccessHash, t.ExpiresAt, t.CreatedAt)
	switch {
	case db.isForeignKey(err):
		return warder.Errorf(warder.ErrNotFound, "user not found")
	case db.isUnique(err):
		return warder.Errorf(warder.ErrConflict, "refresh token already exists")
	case err != nil:
		return fmt.Errorf("sqlstore: create refresh token: %w", err)
	}
	return nil
}

// RotateRefreshToken uses up the refresh token with the given hash and,
// in the same transaction, stores access and next as its successors (their
// UserID and next's Family and AccessHash are filled in here). It returns
// the owner. An unknown or expired token, or one of a disabled user, is
// ErrNotFound. A token already used is ErrReused, with its owner: a
// refresh token shown twice has leaked, so its whole family and every
// access token issued in it are deleted first (and that deletion commits).
func (db *DB) RotateRefreshToken(ctx context.Context, hash string, at time.Time, next *warder.RefreshToken, access *warder.Token) (_ *warder.User, err error) {
	defer db.classify(&err)
	at = dbTime(at)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: refresh: %w", err)
	}
	defer tx.Rollback()
	var (
		u          warder.User
		family     string
		used, live bool
	)
	dest := append(userDest(&u), &family, &used, &live)
	err = tx.QueryRowContext(ctx, `
		SELECT `+userColumns+`, r.family, r.used_at IS NOT NULL, r.expires_at > $2
		FROM refresh_tokens r JOIN users u ON u.id = r.user_id
		WHERE r.hash = $1`, hash, at).Scan(dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, warder.Errorf(warder.ErrNotFound, "refresh token not found")
	case err != nil:
		return nil, fmt.Errorf("sqlstore: refresh: %w", err)
	case used:
		if err := revokeFamily(ctx, tx, family); err != nil {
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("sqlstore: refresh: %w", err)
		}
		return &u, warder.ErrRefreshReused
	case !live || u.Disabled:
		return nil, warder.Errorf(warder.ErrNotFound, "refresh token expired")
	}
	// Only one of two concurrent refreshes with the same token gets here
	// with a row to update; the other sees it used.
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL`, hash, at)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: refresh: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("sqlstore: refresh: %w", err)
	} else if n != 1 {
		return nil, warder.Errorf(warder.ErrNotFound, "refresh token already used")
	}
	access.UserID, access.ExpiresAt, access.CreatedAt = u.ID, dbTime(access.ExpiresAt), now()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO tokens (hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
		access.Hash, access.UserID, access.ExpiresAt, access.CreatedAt); err != nil {
		return nil, fmt.Errorf("sqlstore: refresh: %w", err)
	}
	next.UserID, next.Family, next.AccessHash = u.ID, family, access.Hash
	if err := db.insertRefresh(ctx, tx, next); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlstore: refresh: %w", err)
	}
	return &u, nil
}

// RevokeSession deletes the refresh tokens of the login the access token
// with the given hash was issued in, and every access token issued in it,
// the given one included. A token of no session (or gone) is no error.
func (db *DB) RevokeSession(ctx context.Context, accessHash string) (err error) {
	defer db.classify(&err)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: revoke session: %w", err)
	}
	defer tx.Rollback()
	var family string
	err = tx.QueryRowContext(ctx, `SELECT family FROM refresh_tokens WHERE access_hash = $1`, accessHash).Scan(&family)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("sqlstore: revoke session: %w", err)
	default:
		if err := revokeFamily(ctx, tx, family); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = $1`, accessHash); err != nil {
		return fmt.Errorf("sqlstore: revoke session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: revoke session: %w", err)
	}
	return nil
}

// revokeFamily deletes a family's access tokens and refresh tokens.
func revokeFamily(ctx context.Context, tx *sql.Tx, family string) error {
	if _, err := tx.ExecContext(ctx, `
		DELETE FROM tokens WHERE hash IN (SELECT access_hash FROM refresh_tokens WHERE family = $1)`, family); err != nil {
		return fmt.Errorf("sqlstore: revoke session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE family = $1`, family); err != nil {
		return fmt.Errorf("sqlstore: revoke session: %w", err)
	}
	return nil
}
