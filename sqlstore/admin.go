package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/warder/warder"
)

// ListUsers returns every user, oldest first.
func (db *DB) ListUsers(ctx context.Context) (_ []*warder.User, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.created_at, u.id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	defer rows.Close()
	users := []*warder.User{}
	for rows.Next() {
		var u warder.User
		if err := rows.Scan(userDest(&u)...); err != nil {
			return nil, fmt.Errorf("sqlstore: list users: %w", err)
		}
		users = append(users, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return users, nil
}

// SetUserDisabled sets the user's disabled flag; disabling deletes the
// user's tokens and refresh tokens in the same transaction, so they stop working at once.
func (db *DB) SetUserDisabled(ctx context.Context, id string, disabled bool) (err error) {
	defer db.classify(&err)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: disable user: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = $1, updated_at = $3 WHERE id = $2`, disabled, id, now())
	if err != nil {
		return fmt.Errorf("sqlstore: disable user: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: disable user: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "user not found")
	}
	if disabled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("sqlstore: disable user: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("sqlstore: disable user: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: disable user: %w", err)
	}
	return nil
}

// UserLimits returns the user's quota overrides.
func (db *DB) UserLimits(ctx context.Context, id string) (_ warder.Limits, err error) {
	defer db.classify(&err)
	var raw string
	err = db.db.QueryRowContext(ctx, `SELECT limits FROM users WHERE id = $1`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return warder.Limits{}, warder.Errorf(warder.ErrNotFound, "user not found")
	} else if err != nil {
		return warder.Limits{}, fmt.Errorf("sqlstore: user limits: %w", err)
	}
	var l warder.Limits
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return warder.Limits{}, fmt.Errorf("sqlstore: user limits: %w", err)
	}
	return l, nil
}

// SetUserLimits replaces the user's quota overrides.
func (db *DB) SetUserLimits(ctx context.Context, id string, l warder.Limits) (err error) {
	defer db.classify(&err)
	raw, err := json.Marshal(l)
	if err != nil {
		return err
	}
	res, err := db.db.ExecContext(ctx, `UPDATE users SET limits = $1, updated_at = $3 WHERE id = $2`, string(raw), id, now())
	if err != nil {
		return fmt.Errorf("sqlstore: set user limits: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: set user limits: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "user not found")
	}
	return nil
}
