package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warder/warder"
)

// testKeyLineage: a key records the key it was made with, and revoking a
// key revokes every key made with it, however deep, and no other.
func testKeyLineage(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	alice := MustCreateUser(t, db, "alice")
	expires := time.Now().Add(time.Hour)
	keys := []*warder.APIKey{
		{ID: "root", UserID: alice.ID, Name: "root", Hash: "h-root", Prefix: "p"},
		{ID: "child", UserID: alice.ID, Name: "child", Hash: "h-child", Prefix: "p", ParentID: "root", ExpiresAt: &expires},
		{ID: "grandchild", UserID: alice.ID, Name: "gc", Hash: "h-grandchild", Prefix: "p", ParentID: "child", ReadOnly: true},
		{ID: "sibling", UserID: alice.ID, Name: "sibling", Hash: "h-sibling", Prefix: "p"},
	}
	for _, k := range keys {
		wantNoErr(t, db.CreateAPIKey(ctx, k))
	}
	_, k, err := db.UserByAPIKey(ctx, "h-grandchild", time.Now())
	wantNoErr(t, err)
	if k.ParentID != "child" || !k.ReadOnly {
		t.Fatalf("grandchild = %+v", k)
	}
	list, err := db.APIKeys(ctx, alice.ID)
	wantNoErr(t, err)
	if len(list) != 4 || list[0].ParentID != "" || list[1].ParentID != "root" {
		t.Fatalf("APIKeys = %+v", list)
	}
	// A parent that is gone cannot have children.
	err = db.CreateAPIKey(ctx, &warder.APIKey{ID: "orphan", UserID: alice.ID, Name: "o", Hash: "h-orphan", Prefix: "p", ParentID: "nope"})
	wantErr(t, err, warder.ErrNotFound, "")

	wantNoErr(t, db.DeleteAPIKey(ctx, alice.ID, "root"))
	for _, hash := range []string{"h-root", "h-child", "h-grandchild"} {
		_, _, err := db.UserByAPIKey(ctx, hash, time.Now())
		wantErr(t, err, warder.ErrNotFound, "")
	}
	_, _, err = db.UserByAPIKey(ctx, "h-sibling", time.Now())
	wantNoErr(t, err)
	if list, _ = db.APIKeys(ctx, alice.ID); len(list) != 1 || list[0].ID != "sibling" {
		t.Fatalf("APIKeys after revoking root = %+v", list)
	}
}

// testInitialUser: CreateInitialUser makes the first user an admin and
// refuses once any user exists; HasUsers says which case holds.
func testInitialUser(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	has, err := db.HasUsers(ctx)
	wantNoErr(t, err)
	if has {
		t.Fatal("HasUsers on an empty store = true")
	}
	first := &warder.User{Username: "first", Email: "first@example.com"}
	wantNoErr(t, db.CreateInitialUser(ctx, first))
	if first.Role != warder.RoleAdmin {
		t.Fatalf("initial user role = %q", first.Role)
	}
	if has, err = db.HasUsers(ctx); err != nil || !has {
		t.Fatalf("HasUsers after the first = %v, %v", has, err)
	}
	err = db.CreateInitialUser(ctx, &warder.User{Username: "second", Email: "second@example.com"})
	wantErr(t, err, warder.ErrConflict, "users already exist")
	if _, err := db.UserByLogin(ctx, "second"); err == nil {
		t.Fatal("a refused initial user was created")
	}
}
