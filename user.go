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

// APIKey is a long-lived bearer credential for automation. Only the hash
// of its secret is stored; the secret is shown once, at creation.
type APIKey struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// ParentID is the key this one was made with, if it was made with a
	// key rather than a login token. It expires no later than its parent,
	// is read-only if its parent is, and is revoked with it.
	ParentID   string     `json:"parent_id,omitempty"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	ReadOnly   bool       `json:"read_only"`
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Hash       string     `json:"-"`
}

// KeyStore persists API keys.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeys lists the user's keys, oldest first.
	APIKeys(ctx context.Context, userID string) ([]*APIKey, error)
	// DeleteAPIKey revokes the user's key id and, in the same statement,
	// every key made with it, with those, and so on; or returns ErrNotFound.
	DeleteAPIKey(ctx context.Context, userID, id string) error
	// UserByAPIKey returns an enabled user's unexpired key and the user,
	// recording its use; else ErrNotFound.
	UserByAPIKey(ctx context.Context, hash string, now time.Time) (*User, *APIKey, error)
}

// Limits are per-user quotas. In an override a nil field means "the
// operator's default"; in effect, 0 means unlimited.
type Limits struct {
	Agents           *int     `json:"agents"`
	RunningAgents    *int     `json:"running_agents"`
	MemoryBytes      *int64   `json:"memory_bytes"`
	CPUs             *float64 `json:"cpus"`
	AgentMemoryBytes *int64   `json:"agent_memory_bytes"`
	AgentCPUs        *float64 `json:"agent_cpus"`
}

// TokenStore persists bearer tokens by hash.
type TokenStore interface {
	CreateToken(ctx context.Context, t *Token) error
	// UserByToken returns the owner of an unexpired token, or ErrNotFound.
	UserByToken(ctx context.Context, hash string, now time.Time) (*User, error)
	DeleteToken(ctx context.Context, hash string) error
	DeleteExpiredTokens(ctx context.Context, now time.Time) error
}
