package warder

import (
	"context"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// APIKey is an API key as the API shows it, defined in package wire
// (docs/architecture.md, "Wire types").
type APIKey = wire.APIKey

// APIKeyCreate is the body of POST /api/auth/keys (wire.APIKeyCreate),
// with the server's checks.
type APIKeyCreate wire.APIKeyCreate

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
