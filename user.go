package warder

import (
	"context"
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
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
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
	SetUserRole(ctx context.Context, username string, role Role) error
}

// TokenStore persists bearer tokens by hash.
type TokenStore interface {
	CreateToken(ctx context.Context, t *Token) error
	// UserByToken returns the owner of an unexpired token, or ErrNotFound.
	UserByToken(ctx context.Context, hash string, now time.Time) (*User, error)
	DeleteToken(ctx context.Context, hash string) error
	DeleteExpiredTokens(ctx context.Context, now time.Time) error
}
