package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/warder/warder"
)

// tokenPrefix marks Warder tokens so they are recognisable in a leak scan.
const tokenPrefix = "wdr_"

// dummyHash is compared against when a login names no user, so a missing
// account costs the same time as a wrong password.
var dummyHash = func() string {
	h, _ := bcrypt.GenerateFromPassword([]byte("warder-dummy-password"), bcrypt.DefaultCost)
	return string(h)
}()

var errBadLogin = warder.Errorf(warder.ErrUnauthorized, "incorrect username or password")

// Login checks credentials and issues a new token.
func (s *Service) Login(ctx context.Context, login, password, from string) (*warder.Session, error) {
	login = strings.TrimSpace(login)
	if login == "" || password == "" {
		return nil, warder.Errorf(warder.ErrInvalid, "username and password are required")
	}
	// No account has such a name (registration checks them), and the
	// throttle's key and the lookup must not reach the store with it.
	if len(login) > warder.MaxEmailBytes || !utf8.ValidString(login) || strings.IndexByte(login, 0) >= 0 {
		return nil, errBadLogin
	}
	account, address := accountKey(login), addressKey(from)
	if err := s.logins.attempt(ctx, map[string]int{account: freeFailures, address: freeFailures * 4}); err != nil {
		return nil, err
	}
	u, err := s.store.UserByLogin(ctx, login)
	hash := dummyHash
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, warder.ErrNotFound):
		return nil, err
	}
	ok, err := s.hashes.matches(ctx, hash, password)
	if err != nil {
		return nil, err
	}
	if u == nil || !ok {
		return nil, errBadLogin // counted already
	}
	if err := s.logins.succeed(ctx, account, address); err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, warder.Errorf(warder.ErrForbidden, "this account is disabled")
	}
	return s.startSession(ctx, u)
}

// Authenticate returns the owner of a live token.
func (s *Service) Authenticate(ctx context.Context, token string) (*warder.User, error) {
	if token == "" {
		return nil, warder.Errorf(warder.ErrUnauthorized, "not authenticated")
	}
	hash, now := hashToken(token), time.Now().UTC()
	if u, ok := s.creds.get(hash, now); ok {
		return u, nil
	}
	gen := s.creds.begin()
	if isAPIKey(token) {
		return s.authenticateKey(ctx, gen, hash, now)
	}
	u, err := s.store.UserByToken(ctx, hash, now)
	if errors.Is(err, warder.ErrNotFound) {
		return nil, warder.Errorf(warder.ErrUnauthorized, "invalid or expired token")
	} else if err != nil {
		return nil, err
	}
	// A token expires after TokenTTL, so a cached one outlives its expiry
	// by at most the cache's TTL.
	s.creds.put(gen, hash, u, now, time.Time{})
	return u, nil
}

// Logout revokes a token, with the refresh tokens of its login and the
// access tokens they issued; logging out with an API key revokes the key
// (and the keys made with it), which is what a caller logging out means.
// A token or key already gone is no error.
func (s *Service) Logout(ctx context.Context, token string) error {
	hash := hashToken(token)
	if !isAPIKey(token) {
		// Forgotten after the delete: a lookup racing it that read the
		// row before it is then not cached (see credentialCache.gen).
		// The login's other access tokens (issued by refreshes) are
		// forgotten with the user's.
		u, err := s.store.UserByToken(ctx, hash, time.Now().UTC())
		if err == nil {
			defer s.creds.forgetUser(u.ID)
		}
		defer s.creds.forget(hash)
		return s.store.RevokeSession(ctx, hash)
	}
	u, k, err := s.store.UserByAPIKey(ctx, hash, time.Now().UTC())
	if errors.Is(err, warder.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	defer s.creds.forgetUser(u.ID) // the key, and the keys made with it
	if err := s.store.DeleteAPIKey(ctx, u.ID, k.ID); err != nil && !errors.Is(err, warder.ErrNotFound) {
		return err
	}
	return nil
}

// hashToken is how a token is stored: SHA-256 is enough because the token
// carries 256 random bits; a slow hash would only slow every request.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
