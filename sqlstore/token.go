package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warder/warder"
)

// CreateToken stores t, setting t.CreatedAt to the current time. A token of
// a user that does not exist is ErrNotFound.
func (db *DB) CreateToken(ctx context.Context, t *warder.Token) (err error) {
	defer db.classify(&err)
	t.ExpiresAt = dbTime(t.ExpiresAt)
	t.CreatedAt = now()
	_, err = db.db.ExecContext(ctx, `
		INSERT INTO tokens (hash, user_id, expires_at, created_at)
		VALUES ($1, $2, $3, $4)`,
		t.Hash, t.UserID, t.ExpiresAt, t.CreatedAt)
	switch {
	case db.isForeignKey(err):
		return warder.Errorf(warder.ErrNotFound, "user not found")
	case db.isUnique(err):
		// Hashes of random secrets never collide; a clash is a reused secret.
		return warder.Errorf(warder.ErrConflict, "token already exists")
	case err != nil:
		return fmt.Errorf("sqlstore: create token: %w", err)
	}
	return nil
}

// UserByToken returns the owner of the token with the given hash if it
// expires after now, or ErrNotFound.
func (db *DB) UserByToken(ctx context.Context, hash string, now time.Time) (_ *warder.User, err error) {
	defer db.classify(&err)
	row := db.queryRow(ctx, `
		SELECT `+userColumns+`
		FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = $1 AND t.expires_at > $2 AND NOT u.disabled`, hash, dbTime(now))
	u, err := scanUser(row)
	if errors.Is(err, warder.ErrNotFound) {
		return nil, warder.Errorf(warder.ErrNotFound, "token not found or expired")
	}
	return u, err
}

// DeleteToken removes the token with the given hash; one already gone is
// not an error, so logging out twice succeeds.
func (db *DB) DeleteToken(ctx context.Context, hash string) (err error) {
	defer db.classify(&err)
	if _, err := db.db.ExecContext(ctx, `DELETE FROM tokens WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("sqlstore: delete token: %w", err)
	}
	return nil
}

// DeleteExpiredTokens removes every token and refresh token that expired
// at or before now, which UserByToken and RotateRefreshToken already ignore.
func (db *DB) DeleteExpiredTokens(ctx context.Context, now time.Time) (err error) {
	defer db.classify(&err)
	if _, err := db.db.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= $1`, dbTime(now)); err != nil {
		return fmt.Errorf("sqlstore: delete expired tokens: %w", err)
	}
	if _, err := db.db.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= $1`, dbTime(now)); err != nil {
		return fmt.Errorf("sqlstore: delete expired refresh tokens: %w", err)
	}
	return nil
}
