package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/warder/warder"
)

// refreshPrefix marks refresh tokens; one is never a bearer token (the
// tokens table has no row for it), nor an access token a refresh token.
const refreshPrefix = "wdr_rt_"

// newSecret is a prefixed token carrying 256 random bits.
func newSecret(prefix string) (string, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(secret), nil
}

// startSession issues u a new access token and the first refresh token
// of a new family, which RevokeSession (logout) and reuse revoke as one.
func (s *Auth) startSession(ctx context.Context, u *warder.User) (*warder.Session, error) {
	access, err := newSecret(tokenPrefix)
	if err != nil {
		return nil, err
	}
	refresh, err := newSecret(refreshPrefix)
	if err != nil {
		return nil, err
	}
	family, err := newSecret("")
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	t := &warder.Token{Hash: hashToken(access), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return nil, err
	}
	if err := s.store.CreateRefreshToken(ctx, &warder.RefreshToken{
		Hash: hashToken(refresh), UserID: u.ID, Family: hashToken(family), AccessHash: t.Hash,
		ExpiresAt: now.Add(s.cfg.RefreshTTL),
	}); err != nil {
		_ = s.store.DeleteToken(ctx, t.Hash) // never shown to anyone
		return nil, err
	}
	return &warder.Session{AccessToken: access, TokenType: "bearer", ExpiresIn: s.cfg.TokenTTL, RefreshToken: refresh, User: u}, nil
}

var errBadRefresh = warder.Errorf(warder.ErrUnauthorized, "invalid or expired refresh token")

// Refresh exchanges a refresh token for a new access token and a new
// refresh token. Each refresh token is good once: shown again after its
// use, it revokes its whole family (every refresh and access token since
// the login), for then it has leaked or two clients share it. Expired,
// revoked (logout, a disabled user) and unknown tokens are ErrUnauthorized.
func (s *Auth) Refresh(ctx context.Context, refresh string) (*warder.Session, error) {
	refresh = strings.TrimSpace(refresh)
	if refresh == "" {
		return nil, warder.Errorf(warder.ErrInvalid, "refresh_token is required")
	}
	if !strings.HasPrefix(refresh, refreshPrefix) || len(refresh) > 128 {
		return nil, errBadRefresh
	}
	access, err := newSecret(tokenPrefix)
	if err != nil {
		return nil, err
	}
	nextSecret, err := newSecret(refreshPrefix)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	t := &warder.Token{Hash: hashToken(access), ExpiresAt: now.Add(s.cfg.TokenTTL)}
	next := &warder.RefreshToken{Hash: hashToken(nextSecret), ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	u, err := s.store.RotateRefreshToken(ctx, hashToken(refresh), now, next, t)
	switch {
	case errors.Is(err, warder.ErrRefreshReused):
		s.creds.forgetUser(u.ID) // the family's access tokens are gone
		s.log.Warn("refresh token reused; its session is revoked", "user", u.Username)
		return nil, err
	case errors.Is(err, warder.ErrNotFound):
		return nil, errBadRefresh
	case err != nil:
		return nil, err
	}
	return &warder.Session{AccessToken: access, TokenType: "bearer", ExpiresIn: s.cfg.TokenTTL, RefreshToken: nextSecret, User: u}, nil
}
