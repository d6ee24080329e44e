package warder

import (
	"context"
	"strings"
	"time"
)

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

// APIKeyCreate is the body of POST /api/auth/keys.
type APIKeyCreate struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"read_only"`
	// ExpiresInDays is the key's lifetime; 0 means it never expires. A
	// key made with a key expires no later than that key, whatever this
	// asks.
	ExpiresInDays int `json:"expires_in_days"`
}

// Validate checks the request.
func (r *APIKeyCreate) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return Errorf(ErrInvalid, "name is required")
	}
	if err := validLabel("name", r.Name, 100); err != nil {
		return err
	}
	if r.ExpiresInDays < 0 || r.ExpiresInDays > 3650 {
		return Errorf(ErrInvalid, "expires_in_days must be between 0 (never) and 3650")
	}
	return nil
}
