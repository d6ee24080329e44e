package warder

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// Users, their roles and statuses are the API's shapes, defined in
// package wire (docs/architecture.md, "Wire types").
type (
	Role       = wire.Role
	User       = wire.User
	UserStatus = wire.UserStatus
)

// Roles and account statuses: see wire.Role and wire.UserStatus.
const (
	RoleUser     = wire.RoleUser
	RoleAdmin    = wire.RoleAdmin
	UserActive   = wire.UserActive
	UserDisabled = wire.UserDisabled
)

// RegisterRequest is the body of POST /api/auth/register
// (wire.RegisterRequest), with the server's checks.
type RegisterRequest wire.RegisterRequest

// StatusOf is the status of an account that is disabled or not.
func StatusOf(disabled bool) UserStatus {
	if disabled {
		return UserDisabled
	}
	return UserActive
}

// Token is a bearer token as stored: only the SHA-256 of its secret is kept.
type Token struct {
	Hash      string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// UserStore persists users. Username and email are each unique
// (case-insensitively); a clash is ErrConflict.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error
	// CreateFirstUser creates u as RoleAdmin when there are no users yet, and
	// as given otherwise, deciding atomically.
	CreateFirstUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByLogin finds a user by username or email.
	UserByLogin(ctx context.Context, login string) (*User, error)
	// HasUsers reports whether any user exists.
	HasUsers(ctx context.Context) (bool, error)
	// CreateInitialUser creates u as RoleAdmin if there are no users yet,
	// and is ErrConflict otherwise, deciding atomically: how a server
	// whose registration is closed gets its first admin.
	CreateInitialUser(ctx context.Context, u *User) error
	SetUserRole(ctx context.Context, username string, role Role) error
	// ListUsers lists every user, oldest first.
	ListUsers(ctx context.Context) ([]*User, error)
	// SetUserDisabled disables or enables a user; disabling also deletes
	// the user's login tokens, in the same transaction.
	SetUserDisabled(ctx context.Context, id string, disabled bool) error
	// UserLimits returns an admin's quota overrides for the user.
	UserLimits(ctx context.Context, id string) (Limits, error)
	SetUserLimits(ctx context.Context, id string, l Limits) error
}

// TokenStore persists bearer tokens by hash.
type TokenStore interface {
	CreateToken(ctx context.Context, t *Token) error
	// UserByToken returns the owner of an unexpired token, or ErrNotFound.
	UserByToken(ctx context.Context, hash string, now time.Time) (*User, error)
	DeleteToken(ctx context.Context, hash string) error
	DeleteExpiredTokens(ctx context.Context, now time.Time) error
}

// RefreshToken is a refresh token as stored: only the SHA-256 of its
// secret is kept. Each login starts a Family; each refresh uses its token
// up (UsedAt) and issues the family's next one, with a new access token
// (AccessHash), so a token is good for one refresh.
type RefreshToken struct {
	Hash       string
	UserID     string
	Family     string
	AccessHash string
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// ErrRefreshReused is a refresh token shown again after it was used: it
// has leaked, or its refresh raced another, and its family is revoked.
var ErrRefreshReused = Errorf(ErrUnauthorized, "refresh token already used; its session is revoked, log in again")

// RefreshTokenStore persists refresh tokens by hash.
type RefreshTokenStore interface {
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// RotateRefreshToken uses up the live token with the given hash and,
	// atomically, stores access and next (filling in their user, family
	// and access hash) as its successors; it returns the owner. An unknown
	// or expired token, or a disabled owner's, is ErrNotFound; a used one
	// is ErrRefreshReused, with its owner, after its family and the access
	// tokens issued in it are deleted.
	RotateRefreshToken(ctx context.Context, hash string, now time.Time, next *RefreshToken, access *Token) (*User, error)
	// RevokeSession deletes the access token with the given hash and, if
	// it was issued with a refresh token, that token's whole family and
	// the access tokens issued in it. One already gone is no error.
	RevokeSession(ctx context.Context, accessHash string) error
}

// Session is an issued bearer token, and the refresh token that renews it.
// The tokens themselves are only ever returned here; the store keeps
// their hashes.
type Session struct {
	AccessToken  string        `json:"access_token"`
	TokenType    string        `json:"token_type"`
	ExpiresIn    time.Duration `json:"-"`
	RefreshToken string        `json:"refresh_token"`
	// User is whom the tokens are for.
	User *User `json:"-"`
}

// MaxEmailBytes is the longest email address an account may have (RFC
// 5321's path limit); no username or email to log in with is longer.
const MaxEmailBytes = 254

// MaxUsernameBytes is the longest username: 64, for the original Warder's
// clients register testuser-<uuid4> (45).
const MaxUsernameBytes = 64

var usernameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$`)

// Validate checks the request; it also trims the username and email.
func (r *RegisterRequest) Validate() error {
	r.Username = strings.TrimSpace(r.Username)
	r.Email = strings.TrimSpace(r.Email)
	if !usernameRe.MatchString(r.Username) {
		return Errorf(ErrInvalid, "username must be 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email || len(r.Email) > MaxEmailBytes {
		return Errorf(ErrInvalid, "email %q is not a valid address", r.Email)
	}
	if err := validLabel("email", r.Email, MaxEmailBytes); err != nil {
		return err
	}
	if len(r.Password) < 8 {
		return Errorf(ErrInvalid, "password must be at least 8 characters")
	}
	if len(r.Password) > 72 {
		return Errorf(ErrInvalid, "password must be at most 72 bytes")
	}
	r.FirstName, r.LastName = strings.TrimSpace(r.FirstName), strings.TrimSpace(r.LastName)
	if err := validLabel("first_name", r.FirstName, 100); err != nil {
		return err
	}
	return validLabel("last_name", r.LastName, 100)
}
