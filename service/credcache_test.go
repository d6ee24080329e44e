package service

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/sqlstore"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// revocationSlack is what a revocation may take past the cache's TTL to
// bite on another replica: one store lookup on a loaded machine.
const revocationSlack = time.Second

// newReplicas returns two Services sharing the store at open's database,
// as two Warder processes do: each its own connection pool and its own
// credential cache.
func newReplicas(t *testing.T, open func() (*sqlstore.DB, error)) (a, b *Service) {
	t.Helper()
	var ss [2]*Service
	for i := range ss {
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ss[i] = New(db, runtimetest.NewFake(db, 20000+10*i, 20009+10*i), Config{
			Lifecycle: AgentsConfig{DefaultImage: "warder/agent:latest", Spec: warder.SpecSettings{Network: "net"}},
		})
	}
	return ss[0], ss[1]
}

// TestCredentialCacheRevocation: with every replica's cache warm, a
// logout, a key revoked (with the key made with it) and a user disabled
// through replica A are refused on A at once and on replica B within
// DefaultCredentialTTL (plus one lookup); the window docs/security.md
// gives. On SQLite (two pools on one file) and on PostgreSQL.
func TestCredentialCacheRevocation(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) func() (*sqlstore.DB, error){
		"sqlite": func(t *testing.T) func() (*sqlstore.DB, error) {
			path := t.TempDir() + "/warder.db"
			return func() (*sqlstore.DB, error) {
				return sqlstore.OpenSQLite(context.Background(), path, sqlstore.SyncFull)
			}
		},
		"postgres": func(t *testing.T) func() (*sqlstore.DB, error) {
			url := testenv.Postgres(t)
			return func() (*sqlstore.DB, error) { return sqlstore.OpenPostgres(context.Background(), url) }
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, b := newReplicas(t, store(t))
			root := mustUser(t, a, "root") // the first user: an admin
			mustUser(t, a, "alice")
			login := func() string {
				t.Helper()
				sess, err := a.Auth.Login(ctx, "alice", "password", "test")
				if err != nil {
					t.Fatal(err)
				}
				return sess.AccessToken
			}
			newKey := func(token string) (*warder.APIKey, string) {
				t.Helper()
				u := mustAuth(t, a, token)
				k, secret, err := a.Auth.CreateAPIKey(ctx, u, warder.APIKeyCreate{Name: "k"})
				if err != nil {
					t.Fatal(err)
				}
				return k, secret
			}

			token := login()
			wantRevoked(t, "logout", a, b, []string{token}, func() error { return a.Auth.Logout(ctx, token) })

			token = login()
			k, key := newKey(token)
			_, child := newKey(key) // made with the key: revoked with it
			alice := mustAuth(t, a, token)
			wantRevoked(t, "deleting a key", a, b, []string{key, child}, func() error { return a.Auth.DeleteAPIKey(ctx, alice, k.ID) })

			_, key = newKey(token)
			admin := mustAuth(t, a, mustLogin(t, a, root.Username))
			wantRevoked(t, "disabling the user", a, b, []string{token, key}, func() error { return a.Admin.SetUserDisabled(ctx, admin, alice.ID, true) })
		})
	}
}

// wantRevoked warms both replicas' caches with creds, revokes them with
// revoke through a, and fails unless a refuses them at once and b within
// DefaultCredentialTTL + revocationSlack.
func wantRevoked(t *testing.T, what string, a, b *Service, creds []string, revoke func() error) {
	t.Helper()
	for _, c := range creds {
		mustAuth(t, a, c)
		mustAuth(t, b, c)
	}
	if err := revoke(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	at := time.Now()
	ctx := context.Background()
	for _, c := range creds {
		if _, err := a.Auth.Authenticate(ctx, c); !errors.Is(err, warder.ErrUnauthorized) {
			t.Fatalf("after %s, the replica that made it authenticated a revoked credential: %v", what, err)
		}
	}
	deadline := at.Add(DefaultCredentialTTL + revocationSlack)
	for _, c := range creds {
		for {
			_, err := b.Auth.Authenticate(ctx, c)
			if errors.Is(err, warder.ErrUnauthorized) {
				break
			}
			if err != nil {
				t.Fatalf("after %s: %v", what, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s, the other replica still authenticated it %s later", what, time.Since(at).Round(time.Millisecond))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("after %s, the other replica refused every credential within %s", what, time.Since(at).Round(time.Millisecond))
}

func mustAuth(t *testing.T, s *Service, token string) *warder.User {
	t.Helper()
	u, err := s.Auth.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustLogin(t *testing.T, s *Service, name string) string {
	t.Helper()
	sess, err := s.Auth.Login(context.Background(), name, "password", "test")
	if err != nil {
		t.Fatal(err)
	}
	return sess.AccessToken
}

// TestCredentialCacheBounds: an entry is believed for the TTL and no
// longer, nor past the credential's own expiry; a lookup that raced a
// revocation is not cached; callers get copies.
func TestCredentialCacheBounds(t *testing.T) {
	t.Parallel()
	c := credentialCache{ttl: time.Second}
	now := time.Now()
	u := &warder.User{ID: "u1", Key: &warder.APIKey{ID: "k1"}}
	c.put(c.begin(), "h", u, now, time.Time{})
	if got, ok := c.get("h", now.Add(500*time.Millisecond)); !ok || got.ID != "u1" {
		t.Fatalf("within the TTL: %v %v", got, ok)
	}
	// In the last quarter, one caller asks the store; the others are
	// still served, up to the TTL and no further.
	if _, ok := c.get("h", now.Add(800*time.Millisecond)); ok {
		t.Fatal("the first caller in the last quarter was not sent to the store")
	}
	if got, ok := c.get("h", now.Add(999*time.Millisecond)); !ok || got.ID != "u1" {
		t.Fatalf("while one caller refreshes: %v %v", got, ok)
	}
	if _, ok := c.get("h", now.Add(time.Second)); ok {
		t.Fatal("believed at the TTL")
	}
	c.put(c.begin(), "h2", u, now, now.Add(100*time.Millisecond))
	if _, ok := c.get("h2", now.Add(100*time.Millisecond)); ok {
		t.Fatal("believed past the key's own expiry")
	}
	gen := c.begin()
	c.forgetUser("someone")
	c.put(gen, "h3", u, now, time.Time{})
	if _, ok := c.get("h3", now); ok {
		t.Fatal("a lookup that began before a revocation was cached")
	}
	got, _ := c.get("h", now)
	got.ReadOnly, got.Key.ID = true, "changed"
	if again, _ := c.get("h", now); again.ReadOnly || again.Key.ID != "k1" {
		t.Fatal("a caller's change reached the cache")
	}
	c.forgetUser("u1")
	if _, ok := c.get("h", now); ok {
		t.Fatal("believed after its user's credentials were dropped")
	}
	off := credentialCache{ttl: -1}
	off.put(off.begin(), "h", u, now, time.Time{})
	if _, ok := off.get("h", now); ok {
		t.Fatal("a cache with no TTL kept an entry")
	}
}
