package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
)

// TestPasswordHashingBounded: with every hashing slot taken a registration
// waits, then is told to retry, and creates nothing; a taken name is
// refused without waiting for a slot at all, since it needs no hash.
func TestPasswordHashingBounded(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, 1)
	mustUser(t, s, "alice")
	s.Auth.hashes.wait = 200 * time.Millisecond
	for range cap(s.Auth.hashes.slots) {
		s.Auth.hashes.slots <- struct{}{} // every slot busy
	}
	start := time.Now()
	_, err := s.Auth.Register(ctx, warder.RegisterRequest{Username: "bob", Email: "bob@example.com", Password: "password"}, "10.0.0.1")
	if !errors.Is(err, warder.ErrRateLimited) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("register with no free slot = %v after %s", err, time.Since(start))
	}
	if _, err := s.Agents.store.UserByLogin(ctx, "bob"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("bob was created without a hash: %v", err)
	}
	if _, err := s.Auth.Login(ctx, "alice", "password", "10.0.0.1"); !errors.Is(err, warder.ErrRateLimited) {
		t.Fatalf("login with no free slot = %v", err)
	}
	start = time.Now()
	_, err = s.Auth.Register(ctx, warder.RegisterRequest{Username: "alice", Email: "new@example.com", Password: "password"}, "10.0.0.1")
	if !errors.Is(err, warder.ErrConflict) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("a taken name = %v after %s; want a conflict without waiting to hash", err, time.Since(start))
	}
	for range cap(s.Auth.hashes.slots) {
		<-s.Auth.hashes.slots
	}
	mustUser(t, s, "bob")
}

// TestRegistrationRules: registration is throttled per address; closed,
// it admits only the first user, and admins create the rest.
func TestRegistrationRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 1)
	frozen := time.Now()
	s.Auth.registrations.clock = func() time.Time { return frozen }
	reg := func(name, from string) error {
		_, err := s.Auth.Register(ctx, warder.RegisterRequest{Username: name, Email: name + "@example.com", Password: "password"}, from)
		return err
	}
	for i := range freeRegistrations {
		name := "user" + string(rune('a'+i))
		if err := reg(name, "10.0.0.1"); err != nil {
			t.Fatalf("registration %d: %v", i, err)
		}
	}
	if err := reg("usera", "10.0.0.1"); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("a taken name past the allowance counts and is refused: %v", err)
	}
	var rl *warder.RateLimitError
	if err := reg("latecomer", "10.0.0.1"); !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("past the allowance: %v", err)
	}
	if err := reg("elsewhere", "10.0.0.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}

	closed, _ := newTestService(t, 1)
	closed.Auth.cfg.RegistrationClosed = true
	admin, err := closed.Auth.Register(ctx, warder.RegisterRequest{Username: "root", Email: "root@example.com", Password: "password"}, "10.0.0.1")
	if err != nil || !admin.IsAdmin() {
		t.Fatalf("the first user on a closed server: %+v %v", admin, err)
	}
	_, err = closed.Auth.Register(ctx, warder.RegisterRequest{Username: "bob", Email: "bob@example.com", Password: "password"}, "10.0.0.1")
	if !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("a second user on a closed server: %v", err)
	}
	bob, err := closed.Auth.CreateUser(ctx, admin, warder.RegisterRequest{Username: "bob", Email: "bob@example.com", Password: "password"})
	if err != nil || bob.IsAdmin() {
		t.Fatalf("admin creates bob: %+v %v", bob, err)
	}
	if _, err := closed.Auth.CreateUser(ctx, bob, warder.RegisterRequest{Username: "eve", Email: "eve@example.com", Password: "password"}); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("a user creates a user: %v", err)
	}
	if _, err := closed.Auth.CreateUser(ctx, admin, warder.RegisterRequest{Username: "BOB", Email: "b2@example.com", Password: "password"}); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("admin creates a taken name: %v", err)
	}
}

// TestKeyBounds: a key made with a key expires no later and is read-only
// if its maker is; a read-only caller makes no key.
func TestKeyBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 1)
	alice := mustUser(t, s, "alice")
	parent, secret, err := s.Auth.CreateAPIKey(ctx, alice, warder.APIKeyCreate{Name: "parent", ExpiresInDays: 1})
	if err != nil || parent.ParentID != "" {
		t.Fatalf("parent: %+v %v", parent, err)
	}
	viaKey, err := s.Auth.Authenticate(ctx, secret)
	if err != nil || viaKey.Key == nil || viaKey.Key.ID != parent.ID {
		t.Fatalf("authenticating with the key: %+v %v", viaKey, err)
	}
	child, _, err := s.Auth.CreateAPIKey(ctx, viaKey, warder.APIKeyCreate{Name: "child", ExpiresInDays: 3650})
	if err != nil || child.ParentID != parent.ID || child.ExpiresAt == nil || child.ExpiresAt.After(*parent.ExpiresAt) {
		t.Fatalf("child of a key expiring %v: %+v %v", parent.ExpiresAt, child, err)
	}
	roParent := *viaKey
	roParent.Key = &warder.APIKey{ID: parent.ID, ReadOnly: true, ExpiresAt: parent.ExpiresAt}
	if _, _, err := s.Auth.CreateAPIKey(ctx, &roParent, warder.APIKeyCreate{Name: "x"}); err != nil {
		t.Fatal(err)
	} else if keys, _ := s.Auth.APIKeys(ctx, alice); !keys[len(keys)-1].ReadOnly {
		t.Fatalf("the child of a read-only key is not read-only: %+v", keys[len(keys)-1])
	}
	roParent.ReadOnly = true
	if _, _, err := s.Auth.CreateAPIKey(ctx, &roParent, warder.APIKeyCreate{Name: "y"}); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("a read-only caller makes a key: %v", err)
	}
}
