package service

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// errRegistrationClosed answers registration on a server that has it
// closed (WARDER_REGISTRATION=closed) once it has a user.
var errRegistrationClosed = warder.Errorf(warder.ErrForbidden,
	"registration is closed on this server: an admin creates accounts (POST /api/admin/users)")

// Register creates a user. The first user of an empty database becomes an
// admin; everyone after is a plain user. With registration closed only
// that first user may register. from is the client's address: past
// freeRegistrations attempts from one address, further ones are slowed
// and then refused (RateLimitError).
func (s *Auth) Register(ctx context.Context, req warder.RegisterRequest, from string) (*warder.User, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := s.registrations.attempt(ctx, map[string]int{addressKey(from): freeRegistrations}); err != nil {
		return nil, err
	}
	if s.cfg.RegistrationClosed {
		// Asked first, so a closed server hashes nothing for a refusal.
		if has, err := s.store.HasUsers(ctx); err != nil {
			return nil, err
		} else if has {
			return nil, errRegistrationClosed
		}
	}
	u, err := s.newUser(ctx, req)
	if err != nil {
		return nil, err
	}
	if !s.cfg.RegistrationClosed {
		err = s.store.CreateFirstUser(ctx, u)
	} else if err = s.store.CreateInitialUser(ctx, u); errors.Is(err, warder.ErrConflict) {
		err = errRegistrationClosed // someone else was first
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CreateUser makes a plain user, for an admin: how users are made when
// registration is closed. It is not throttled: admins are trusted.
func (s *Auth) CreateUser(ctx context.Context, caller *warder.User, req warder.RegisterRequest) (*warder.User, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	u, err := s.newUser(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// newUser is the user req asks for, its password hashed. It checks that
// the username and email are free first: bcrypt is the expensive part, and
// a taken name must not cost it. (The store checks again as it inserts,
// for a name taken meanwhile.) The conflict names what is taken, as the
// store's does: registration cannot hide which names exist, since a
// caller may always try a name with a fresh email; the address throttle
// bounds how fast anyone can probe.
func (s *Auth) newUser(ctx context.Context, req warder.RegisterRequest) (*warder.User, error) {
	for _, taken := range []struct{ field, value string }{{"username", req.Username}, {"email", req.Email}} {
		_, err := s.store.UserByLogin(ctx, taken.value)
		if err == nil {
			return nil, warder.Errorf(warder.ErrConflict, "%s %q is already taken", taken.field, taken.value)
		} else if !errors.Is(err, warder.ErrNotFound) {
			return nil, err
		}
	}
	hash, err := s.hashes.hash(ctx, req.Password)
	if err != nil {
		return nil, err
	}
	return &warder.User{
		ID:           uuid.NewString(),
		Username:     req.Username,
		Email:        req.Email,
		FirstName:    req.FirstName,
		LastName:     req.LastName,
		Role:         warder.RoleUser,
		PasswordHash: hash,
		CreatedAt:    time.Now().UTC(),
	}, nil
}
