package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// keyPrefix marks API keys, so Authenticate can tell them from login
// tokens and a leaked one is recognisable.
const keyPrefix = "wdk_"

// CreateAPIKey makes a key for the caller. A read-only key cannot make a
// key at all. A key made with a key can neither outlive nor out-rank it:
// it records that key as its parent, expires no later, is read-only if
// the parent is, and is revoked with it. A key made with a login token
// has no parent and outlives the token: that is what an API key is for.
func (s *Auth) CreateAPIKey(ctx context.Context, caller *warder.User, req warder.APIKeyCreate) (*warder.APIKey, string, error) {
	if err := req.Validate(); err != nil {
		return nil, "", err
	}
	if caller.ReadOnly {
		return nil, "", warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot make keys")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", err
	}
	token := keyPrefix + base64.RawURLEncoding.EncodeToString(secret)
	k := &warder.APIKey{
		ID:       uuid.NewString(),
		UserID:   caller.ID,
		Name:     req.Name,
		Prefix:   token[:12],
		ReadOnly: req.ReadOnly,
		Hash:     hashToken(token),
	}
	if req.ExpiresInDays > 0 {
		at := time.Now().UTC().Add(time.Duration(req.ExpiresInDays) * 24 * time.Hour)
		k.ExpiresAt = &at
	}
	if p := caller.Key; p != nil {
		k.ParentID = p.ID
		k.ReadOnly = k.ReadOnly || p.ReadOnly
		if p.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*p.ExpiresAt)) {
			at := *p.ExpiresAt
			k.ExpiresAt = &at
		}
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, token, nil
}

// APIKeys lists the caller's keys (never their secrets).
func (s *Auth) APIKeys(ctx context.Context, caller *warder.User) ([]*warder.APIKey, error) {
	return s.store.APIKeys(ctx, caller.ID)
}

// DeleteAPIKey revokes one of the caller's keys, and every key made with
// it; they stop working at once, and streams opened with them end within
// seconds (see the API's credential re-check).
func (s *Auth) DeleteAPIKey(ctx context.Context, caller *warder.User, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return warder.Errorf(warder.ErrInvalid, "key id %q is not a valid id", id)
	}
	// The keys made with it go too, and their hashes are not at hand:
	// every cached credential of the caller is dropped, after the delete
	// so that no request racing it caches the key again.
	defer s.creds.forgetUser(caller.ID)
	return s.store.DeleteAPIKey(ctx, caller.ID, id)
}

// authenticateKey is Authenticate for an API key with the given hash.
// gen is from s.creds.begin, taken before the lookup.
func (s *Auth) authenticateKey(ctx context.Context, gen uint64, hash string, now time.Time) (*warder.User, error) {
	u, k, err := s.store.UserByAPIKey(ctx, hash, now)
	if errors.Is(err, warder.ErrNotFound) {
		return nil, warder.Errorf(warder.ErrUnauthorized, "invalid, revoked or expired API key")
	} else if err != nil {
		return nil, err
	}
	u.ReadOnly, u.Key = k.ReadOnly, k
	var until time.Time
	if k.ExpiresAt != nil {
		until = *k.ExpiresAt
	}
	s.creds.put(gen, hash, u, now, until)
	return u, nil
}

func isAPIKey(token string) bool { return strings.HasPrefix(token, keyPrefix) }
