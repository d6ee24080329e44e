package sqlstore

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testRefreshTokens(t *testing.T, open opener) {
	ctx := context.Background()
	now := time.Now().UTC()
	// login stores a login's access token a0 and refresh token r0 of family f.
	login := func(t *testing.T, db *DB, userID, sfx string) {
		t.Helper()
		wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "a0" + sfx, UserID: userID, ExpiresAt: now.Add(time.Hour)}))
		wantNoErr(t, db.CreateRefreshToken(ctx, &warder.RefreshToken{Hash: "r0" + sfx, UserID: userID, Family: "f" + sfx, AccessHash: "a0" + sfx, ExpiresAt: now.Add(24 * time.Hour)}))
	}
	rotate := func(db *DB, old, sfx string, at time.Time) (*warder.User, error) {
		return db.RotateRefreshToken(ctx, old, at,
			&warder.RefreshToken{Hash: "r" + sfx, ExpiresAt: at.Add(24 * time.Hour)},
			&warder.Token{Hash: "a" + sfx, ExpiresAt: at.Add(time.Hour)})
	}
	live := func(t *testing.T, db *DB, hash string, want bool) {
		t.Helper()
		_, err := db.UserByToken(ctx, hash, now)
		if got := err == nil; got != want {
			t.Fatalf("access token %s live = %v (%v), want %v", hash, got, err, want)
		}
	}

	t.Run("RotateOnce", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		login(t, db, alice.ID, "")
		u, err := rotate(db, "r0", "1", now)
		wantNoErr(t, err)
		if u.ID != alice.ID {
			t.Fatalf("owner = %s, want %s", u.ID, alice.ID)
		}
		live(t, db, "a1", true)
		live(t, db, "a0", true) // a refresh does not end the old token early
		// The successor works once too.
		_, err = rotate(db, "r1", "2", now)
		wantNoErr(t, err)
		// r1 again is reuse: the whole family goes, access tokens included.
		u, err = rotate(db, "r1", "3", now)
		if !errors.Is(err, warder.ErrRefreshReused) || u == nil || u.ID != alice.ID {
			t.Fatalf("reuse = %v, %v; want ErrRefreshReused with the owner", u, err)
		}
		for _, h := range []string{"a0", "a1", "a2", "a3"} {
			live(t, db, h, false)
		}
		_, err = rotate(db, "r2", "4", now) // the family's newest is revoked too
		wantErr(t, err, warder.ErrNotFound, "")
	})

	t.Run("Expired", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		login(t, db, alice.ID, "")
		_, err := rotate(db, "r0", "1", now.Add(24*time.Hour))
		wantErr(t, err, warder.ErrNotFound, "")
		wantNoErr(t, db.DeleteExpiredTokens(ctx, now.Add(25*time.Hour)))
		_, err = rotate(db, "r0", "1", now)
		wantErr(t, err, warder.ErrNotFound, "") // deleted, not only ignored
		_, err = rotate(db, "unknown", "1", now)
		wantErr(t, err, warder.ErrNotFound, "")
	})

	t.Run("RevokeSession", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		login(t, db, alice.ID, "")
		login(t, db, alice.ID, "x") // another login, untouched
		_, err := rotate(db, "r0", "1", now)
		wantNoErr(t, err)
		wantNoErr(t, db.RevokeSession(ctx, "a0")) // an older token of the login
		live(t, db, "a0", false)
		live(t, db, "a1", false)
		_, err = rotate(db, "r1", "2", now)
		wantErr(t, err, warder.ErrNotFound, "")
		live(t, db, "a0x", true)
		_, err = rotate(db, "r0x", "1x", now)
		wantNoErr(t, err)
		wantNoErr(t, db.RevokeSession(ctx, "a0")) // twice is no error
	})

	t.Run("DisabledUser", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		login(t, db, alice.ID, "")
		wantNoErr(t, db.SetUserDisabled(ctx, alice.ID, true))
		wantNoErr(t, db.SetUserDisabled(ctx, alice.ID, false))
		_, err := rotate(db, "r0", "1", now)
		wantErr(t, err, warder.ErrNotFound, "")
	})
}

// testKnowledgeBase: an agent's knowledge_base is stored, read back, and
// cleared to {} (stored as NULL).
func testKnowledgeBase(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	alice := MustCreateUser(t, db, "alice")
	kb := map[string]any{"directory": "data/pdfs", "chunk_size": float64(1000), "recreate": false}
	a := &warder.Agent{UserID: alice.ID, Name: "kb", Type: "rag", KnowledgeBase: kb}
	wantNoErr(t, db.CreateAgent(ctx, a))
	got, err := db.Agent(ctx, a.ID)
	wantNoErr(t, err)
	if !reflect.DeepEqual(got.KnowledgeBase, kb) {
		t.Fatalf("knowledge_base = %v, want %v", got.KnowledgeBase, kb)
	}
	got.KnowledgeBase = map[string]any{}
	wantNoErr(t, db.UpdateAgent(ctx, got))
	got, err = db.Agent(ctx, a.ID)
	wantNoErr(t, err)
	if got.KnowledgeBase == nil || len(got.KnowledgeBase) != 0 {
		t.Fatalf("cleared knowledge_base = %#v, want {}", got.KnowledgeBase)
	}
}
