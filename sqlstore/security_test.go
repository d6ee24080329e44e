package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testSecurity(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	alice := MustCreateUser(t, db, "alice")
	bob := MustCreateUser(t, db, "bob")

	// Sealed secrets are stored and read back as they are.
	a := MustCreateAgent(t, db, alice.ID, "a")
	a.SealedSecrets = "v1:abcd:sealed"
	wantNoErr(t, db.UpdateAgent(ctx, a))
	got, _ := db.Agent(ctx, a.ID)
	if got.SealedSecrets != "v1:abcd:sealed" {
		t.Fatalf("sealed secrets = %q", got.SealedSecrets)
	}
	wantErr(t, db.ResealSecrets(ctx, a.ID, "v1:stale", "v1:new"), warder.ErrConflict, "")
	wantNoErr(t, db.ResealSecrets(ctx, a.ID, "v1:abcd:sealed", "v1:new"))

	// API keys: by hash, expiring, per user, revocable.
	past := time.Now().Add(-time.Hour)
	keys := []*warder.APIKey{
		{ID: "k1", UserID: alice.ID, Name: "ci", Hash: "h1", Prefix: "wdk_aaaa", ReadOnly: true},
		{ID: "k2", UserID: alice.ID, Name: "old", Hash: "h2", Prefix: "wdk_bbbb", ExpiresAt: &past},
	}
	for _, k := range keys {
		wantNoErr(t, db.CreateAPIKey(ctx, k))
	}
	u, k, err := db.UserByAPIKey(ctx, "h1", time.Now())
	wantNoErr(t, err)
	if u.ID != alice.ID || !k.ReadOnly || k.Name != "ci" {
		t.Fatalf("UserByAPIKey = %+v %+v", u, k)
	}
	_, _, err = db.UserByAPIKey(ctx, "h2", time.Now())
	wantErr(t, err, warder.ErrNotFound, "")
	list, err := db.APIKeys(ctx, alice.ID)
	wantNoErr(t, err)
	if len(list) != 2 || list[0].LastUsedAt == nil {
		t.Fatalf("APIKeys = %+v", list)
	}
	wantErr(t, db.DeleteAPIKey(ctx, bob.ID, "k1"), warder.ErrNotFound, "")
	wantNoErr(t, db.DeleteAPIKey(ctx, alice.ID, "k1"))
	_, _, err = db.UserByAPIKey(ctx, "h1", time.Now())
	wantErr(t, err, warder.ErrNotFound, "")

	// Disabling a user ends their tokens and keys at once.
	wantNoErr(t, db.CreateToken(ctx, &warder.Token{Hash: "t1", UserID: bob.ID, ExpiresAt: time.Now().Add(time.Hour)}))
	wantNoErr(t, db.CreateAPIKey(ctx, &warder.APIKey{ID: "k3", UserID: bob.ID, Name: "n", Hash: "h3", Prefix: "p"}))
	wantNoErr(t, db.SetUserDisabled(ctx, bob.ID, true))
	_, err = db.UserByToken(ctx, "t1", time.Now())
	wantErr(t, err, warder.ErrNotFound, "")
	_, _, err = db.UserByAPIKey(ctx, "h3", time.Now())
	wantErr(t, err, warder.ErrNotFound, "")
	users, err := db.ListUsers(ctx)
	wantNoErr(t, err)
	if len(users) != 2 || !users[1].Disabled || users[0].Disabled {
		t.Fatalf("ListUsers = %+v %+v", users[0], users[1])
	}
	wantNoErr(t, db.SetUserDisabled(ctx, bob.ID, false))
	wantErr(t, db.SetUserDisabled(ctx, "nobody", true), warder.ErrNotFound, "")

	// Limits overrides round-trip; unset fields stay nil.
	n, mem := 3, int64(1<<30)
	wantNoErr(t, db.SetUserLimits(ctx, alice.ID, warder.Limits{Agents: &n, MemoryBytes: &mem}))
	l, err := db.UserLimits(ctx, alice.ID)
	wantNoErr(t, err)
	if l.Agents == nil || *l.Agents != 3 || *l.MemoryBytes != 1<<30 || l.RunningAgents != nil {
		t.Fatalf("UserLimits = %+v", l)
	}
	_, err = db.UserLimits(ctx, "nobody")
	wantErr(t, err, warder.ErrNotFound, "")
}
