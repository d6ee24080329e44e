package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/warder/warder"
)

// userColumns are read by scanUser, in its order.
const userColumns = `u.id, u.username, u.email, u.role, u.password_hash, u.created_at, u.disabled, u.first_name, u.last_name, u.updated_at`

// userDest are the scan destinations of userColumns in u.
func userDest(u *warder.User) []any {
	return []any{&u.ID, &u.Username, &u.Email, &u.Role, &u.PasswordHash, utcTime{&u.CreatedAt}, disabledFlag{u}, &u.FirstName, &u.LastName, updatedTime{u}}
}

// updatedTime scans updated_at into u.UpdatedAt; NULL, never updated, is
// u.CreatedAt, which is scanned before it.
type updatedTime struct{ u *warder.User }

func (t updatedTime) Scan(src any) error {
	if src == nil {
		t.u.UpdatedAt = t.u.CreatedAt
		return nil
	}
	return utcTime{&t.u.UpdatedAt}.Scan(src)
}

// disabledFlag scans the disabled column into u.Disabled and u.Status.
type disabledFlag struct{ u *warder.User }

func (f disabledFlag) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		f.u.Disabled = v
	case int64:
		f.u.Disabled = v != 0
	default:
		return fmt.Errorf("sqlstore: disabled is a %T, not a boolean", src)
	}
	f.u.Status = warder.StatusOf(f.u.Disabled)
	return nil
}

// CreateUser inserts u, filling an empty ID with a new UUID, an empty Role
// with RoleUser, and CreatedAt with the current time.
func (db *DB) CreateUser(ctx context.Context, u *warder.User) (err error) {
	defer db.classify(&err)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	defer tx.Rollback()
	if err := db.insertUser(ctx, tx, u); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	return nil
}

// CreateFirstUser inserts u as CreateUser does, but as RoleAdmin when there
// are no users yet. The check and the insert share a transaction that
// first takes the dialect's lock, so of two racing first users only one
// becomes admin.
func (db *DB) CreateFirstUser(ctx context.Context, u *warder.User) (err error) {
	defer db.classify(&err)
	return db.createFirst(ctx, u, false)
}

// CreateInitialUser inserts u as RoleAdmin if there are no users yet and
// is ErrConflict otherwise, deciding as CreateFirstUser does.
func (db *DB) CreateInitialUser(ctx context.Context, u *warder.User) (err error) {
	defer db.classify(&err)
	return db.createFirst(ctx, u, true)
}

// createFirst is CreateFirstUser, and with onlyFirst CreateInitialUser.
func (db *DB) createFirst(ctx context.Context, u *warder.User, onlyFirst bool) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create first user: %w", err)
	}
	defer tx.Rollback()
	if db.dialect.firstUserLock != "" {
		if _, err := tx.ExecContext(ctx, db.dialect.firstUserLock); err != nil {
			return fmt.Errorf("sqlstore: create first user: %w", err)
		}
	}
	var hasUsers bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&hasUsers); err != nil {
		return fmt.Errorf("sqlstore: create first user: %w", err)
	}
	switch {
	case hasUsers && onlyFirst:
		return warder.Errorf(warder.ErrConflict, "users already exist")
	case !hasUsers:
		u.Role = warder.RoleAdmin
	}
	if err := db.insertUser(ctx, tx, u); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create first user: %w", err)
	}
	return nil
}

// HasUsers reports whether any user exists.
func (db *DB) HasUsers(ctx context.Context) (_ bool, err error) {
	defer db.classify(&err)
	var has bool
	if err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&has); err != nil {
		return false, fmt.Errorf("sqlstore: has users: %w", err)
	}
	return has, nil
}

// insertUser checks the username and email inside tx before inserting, so
// the conflict can say which one is taken; the unique indexes remain the
// guard should a concurrent transaction slip in between (PostgreSQL's READ
// COMMITTED lets it), and their names keep the message exact.
func (db *DB) insertUser(ctx context.Context, tx *sql.Tx, u *warder.User) error {
	if u.Role == "" {
		u.Role = warder.RoleUser
	}
	if err := checkRole(u.Role); err != nil {
		return err
	}
	ukey, ekey := loginKey(u.Username), emailKey(u.Email)
	if taken, err := exists(ctx, tx, `SELECT 1 FROM users WHERE username_key = $1`, ukey); err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	} else if taken {
		return warder.Errorf(warder.ErrConflict, "username %q is already taken", u.Username)
	}
	if ekey != nil {
		if taken, err := exists(ctx, tx, `SELECT 1 FROM users WHERE email_key = $1`, ekey); err != nil {
			return fmt.Errorf("sqlstore: create user: %w", err)
		} else if taken {
			return warder.Errorf(warder.ErrConflict, "email %q is already taken", u.Email)
		}
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	u.CreatedAt = now()
	u.UpdatedAt, u.Disabled, u.Status = u.CreatedAt, false, warder.UserActive
	_, err := tx.ExecContext(ctx, `
		INSERT INTO users (id, username, username_key, email, email_key, role, password_hash, created_at, first_name, last_name)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.Username, ukey, u.Email, ekey, string(u.Role), u.PasswordHash, u.CreatedAt, u.FirstName, u.LastName)
	switch v := db.violation(err); {
	case v.name == uniqueUsername:
		return warder.Errorf(warder.ErrConflict, "username %q is already taken", u.Username)
	case v.name == uniqueEmail:
		return warder.Errorf(warder.ErrConflict, "email %q is already taken", u.Email)
	case v.kind == uniqueViolation:
		return warder.Errorf(warder.ErrConflict, "a user with this id, username or email already exists")
	case err != nil:
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	return nil
}

// UserByID returns the user with the given id, or ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id string) (_ *warder.User, err error) {
	defer db.classify(&err)
	row := db.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id)
	return scanUser(row)
}

// UserByLogin returns the user whose username or email is login, ignoring
// case, or ErrNotFound. Should one user's username be another's email, the
// username wins, so a login never depends on row order.
func (db *DB) UserByLogin(ctx context.Context, login string) (_ *warder.User, err error) {
	defer db.classify(&err)
	if login == "" {
		return nil, warder.Errorf(warder.ErrNotFound, "user not found")
	}
	row := db.db.QueryRowContext(ctx, `
		SELECT `+userColumns+` FROM users u
		WHERE u.username_key = $1 OR u.email_key = $1
		ORDER BY CASE WHEN u.username_key = $1 THEN 0 ELSE 1 END
		LIMIT 1`, loginKey(login))
	return scanUser(row)
}

// SetUserRole sets the role of the user with the given username (any case),
// or returns ErrNotFound.
func (db *DB) SetUserRole(ctx context.Context, username string, role warder.Role) (err error) {
	defer db.classify(&err)
	if err := checkRole(role); err != nil {
		return err
	}
	res, err := db.db.ExecContext(ctx, `UPDATE users SET role = $1, updated_at = $3 WHERE username_key = $2`, string(role), loginKey(username), now())
	if err != nil {
		return fmt.Errorf("sqlstore: set user role: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: set user role: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "user %q not found", username)
	}
	return nil
}

// scanUser reads one row of userColumns.
func scanUser(row *sql.Row) (*warder.User, error) {
	var u warder.User
	err := row.Scan(userDest(&u)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, warder.Errorf(warder.ErrNotFound, "user not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read user: %w", err)
	}
	return &u, nil
}

// checkRole refuses a role other than the two Warder knows, which would
// otherwise be stored and silently grant nothing.
func checkRole(r warder.Role) error {
	if r != warder.RoleUser && r != warder.RoleAdmin {
		return warder.Errorf(warder.ErrInvalid, "role %q is neither %q nor %q", r, warder.RoleUser, warder.RoleAdmin)
	}
	return nil
}

// loginKey is the case-folded form usernames and emails are unique and
// looked up by. Folding happens here rather than in SQL so every dialect
// folds alike.
func loginKey(s string) string { return strings.ToLower(s) }

// emailKey is loginKey for an email, or NULL for none: unique indexes allow
// any number of NULLs, so any number of users may have no email.
func emailKey(email string) any {
	if email == "" {
		return nil
	}
	return loginKey(email)
}

// exists reports whether query returns a row.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
