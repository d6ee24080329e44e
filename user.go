package warder

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// Role is what a user may do beyond their own agents.
type Role string

// The two roles. An admin sees and acts on every user's agents.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// User is an account. PasswordHash never leaves the server: it has no JSON name.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	Role         Role      `json:"role"`
	FirstName    string    `json:"first_name"`
	LastName     string    `json:"last_name"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// ReadOnly is set on the caller, for one request, when it signed in
	// with a read-only API key: it may read but change nothing.
	ReadOnly bool `json:"-"`
	// Key is set on the caller, for one request, when it signed in with an
	// API key (nil for a login token): a key it makes is bounded by this one.
	Key *APIKey `json:"-"`
}

// IsAdmin reports whether u may act on every agent.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

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

// Session is an issued bearer token. The token itself is only ever
// returned here; the store keeps its hash.
type Session struct {
	AccessToken string        `json:"access_token"`
	TokenType   string        `json:"token_type"`
	ExpiresIn   time.Duration `json:"-"`
}

// RegisterRequest is the body of POST /api/auth/register.
type RegisterRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// FirstName and LastName are optional, as in the original Warder.
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// MaxEmailBytes is the longest email address an account may have (RFC
// 5321's path limit); no username or email to log in with is longer.
const MaxEmailBytes = 254

var usernameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$`)

// Validate checks the request; it also trims the username and email.
func (r *RegisterRequest) Validate() error {
	r.Username = strings.TrimSpace(r.Username)
	r.Email = strings.TrimSpace(r.Email)
	if !usernameRe.MatchString(r.Username) {
		return Errorf(ErrInvalid, "username must be 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit")
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
