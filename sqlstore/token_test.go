package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testTokens(t *testing.T, open opener) {
	ctx := context.Background()
	// An expiry with nanoseconds, in a zone other than UTC: the store must
	// compare it as the instant it is.
	east := time.FixedZone("east", 5*3600)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 123456789, east)

	t.Run("Expiry", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		tok := &warder.Token{Hash: "h1", UserID: alice.ID, ExpiresAt: expires}
		wantNoErr(t, db.CreateToken(ctx, tok))
		if want := expires.UTC().Truncate(time.Microsecond); !tok.ExpiresAt.Equal(want) || tok.ExpiresAt.Location() != time.UTC {
			t.Fatalf("ExpiresAt = %v, want %v", tok.ExpiresAt, want)
		}
		if tok.CreatedAt.IsZero() {
			t.Fatal("CreatedAt not set")
		}
		end := tok.ExpiresAt
		for _, c := range []struct {
			now   time.Time
			valid bool
		}{
			{end.Add(-time.Hour), true},
			{end.Add(-time.Microsecond).In(time.FixedZone("west", -8*3600)), true},
			{end, false},
			{end.In(east), false},
			{end.Add(time.Microsecond), false},
			{end.Add(48 * time.Hour), false},
		} {
			u, err := db.UserByToken(ctx, "h1", c.now)
			if c.valid {
				wantNoErr(t, err)
				if u.ID != alice.ID {
					t.Errorf("UserByToken at %v = %s, want %s", c.now, u.ID, alice.ID)
				}
			} else {
				wantErr(t, err, warder.ErrNotFound, "token not found or expired")
			}
		}
		_, err := db.UserByToken(ctx, "unknown", end.Add(-time.Hour))
		wantErr(t, err, warder.ErrNotFound, "")
	})

	t.Run("Delete", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "h1", UserID: alice.ID, ExpiresAt: expires}))
		wantNoErr(t, db.DeleteToken(ctx, "h1"))
		_, err := db.UserByToken(ctx, "h1", expires.Add(-time.Hour))
		wantErr(t, err, warder.ErrNotFound, "")
		wantNoErr(t, db.DeleteToken(ctx, "h1"))
		wantNoErr(t, db.DeleteToken(ctx, "never-existed"))
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		cutoff := expires
		wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "old", UserID: alice.ID, ExpiresAt: cutoff.Add(-time.Minute)}))
		wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "edge", UserID: alice.ID, ExpiresAt: cutoff}))
		wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "new", UserID: alice.ID, ExpiresAt: cutoff.Add(time.Minute)}))
		wantNoErr(t, db.DeleteExpiredTokens(ctx, cutoff))
		// Asked at a time when all three were valid, only a surviving
		// token can still be found.
		early := cutoff.Add(-time.Hour)
		for hash, survives := range map[string]bool{"old": false, "edge": false, "new": true} {
			_, err := db.UserByToken(ctx, hash, early)
			if survives {
				wantNoErr(t, err)
			} else {
				wantErr(t, err, warder.ErrNotFound, "")
			}
		}
	})

	t.Run("UnknownUser", func(t *testing.T) {
		db := open(t)
		err := db.CreateToken(ctx, &warder.Token{Hash: "h", UserID: "ghost", ExpiresAt: expires})
		wantErr(t, err, warder.ErrNotFound, "user not found")
	})

	t.Run("DuplicateHash", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "h", UserID: alice.ID, ExpiresAt: expires}))
		err := db.CreateToken(ctx, &warder.Token{Hash: "h", UserID: alice.ID, ExpiresAt: expires})
		wantErr(t, err, warder.ErrConflict, "")
	})
}
