package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/warder/warder"
)

// Auth is users' credentials: registration, login, tokens, refresh
// tokens and API keys, with the throttles that guard them.
type Auth struct {
	store         warder.Store
	log           *slog.Logger
	cfg           AuthConfig
	logins        throttle // failed logins by account and address
	registrations throttle // registrations by address
	hashes        *hasher  // bounds concurrent bcrypt work
	creds         credentialCache
}

// AuthConfig is what credentials need.
type AuthConfig struct {
	TokenTTL time.Duration
	// RefreshTTL is how long a refresh token lasts (7 days by default;
	// never shorter than TokenTTL).
	RefreshTTL time.Duration
	// RegistrationClosed refuses registration but for the first user of
	// an empty database; admins create the others.
	RegistrationClosed bool
	// HashWorkers is how many password hashes may run at once; 0 means
	// half the CPUs, at least one.
	HashWorkers int
	// Attempts keeps the login and registration throttles' counts; nil
	// keeps them in memory, for this process alone. Replicas sharing a
	// database share them (the store).
	Attempts warder.AttemptStore
	// CredentialTTL is how long a token or key that authenticated is
	// believed without asking the store again, and so how late a
	// revocation made by another process bites here; 0 means
	// DefaultCredentialTTL, negative means every request asks the store.
	CredentialTTL time.Duration
}

func newAuth(store warder.Store, log *slog.Logger, cfg AuthConfig) *Auth {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	cfg.RefreshTTL = max(cfg.RefreshTTL, cfg.TokenTTL)
	if cfg.CredentialTTL == 0 {
		cfg.CredentialTTL = DefaultCredentialTTL
	}
	s := &Auth{store: store, log: log, cfg: cfg, hashes: newHasher(cfg.HashWorkers)}
	s.creds.ttl = cfg.CredentialTTL
	s.logins.what, s.registrations.what = "failed logins", "registrations from this address"
	s.logins.kind, s.registrations.kind = "login:", "register:"
	attempts := cfg.Attempts
	if attempts == nil {
		attempts = &memAttempts{}
	}
	s.logins.store, s.registrations.store = attempts, attempts
	return s
}

// ForgetUser drops what is believed of a user's credentials, at once
// (they were disabled).
func (s *Auth) ForgetUser(id string) { s.creds.forgetUser(id) }

// tidy deletes expired tokens and forgets old throttle counts.
func (s *Auth) tidy(ctx context.Context, now time.Time) {
	if err := s.store.DeleteExpiredTokens(ctx, now); err != nil {
		s.log.Error("deleting expired tokens", "err", err)
	}
	if err := s.logins.store.ForgetAttempts(ctx, now.Add(-forgetAfter)); err != nil {
		s.log.Error("forgetting old login and registration attempts", "err", err)
	}
}

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
func (s *Auth) Login(ctx context.Context, login, password, from string) (*warder.Session, error) {
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
func (s *Auth) Authenticate(ctx context.Context, token string) (*warder.User, error) {
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
func (s *Auth) Logout(ctx context.Context, token string) error {
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
