package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testUsers(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateAndRead", func(t *testing.T) {
		db := open(t)
		before := time.Now().UTC().Truncate(time.Microsecond)
		u := MustCreateUser(t, db, "Alice")
		if u.ID == "" || u.Role != warder.RoleUser {
			t.Fatalf("created user has ID %q and role %q, want an ID and role user", u.ID, u.Role)
		}
		if u.CreatedAt.Before(before) || u.CreatedAt.Location() != time.UTC || u.CreatedAt.Nanosecond()%1000 != 0 {
			t.Fatalf("CreatedAt = %v, want UTC, in microseconds, not before %v", u.CreatedAt, before)
		}
		got, err := db.UserByID(ctx, u.ID)
		wantNoErr(t, err)
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("UserByID = %+v, want %+v", got, u)
		}
	})

	t.Run("NamesKept", func(t *testing.T) {
		db := open(t)
		u := &warder.User{Username: "carol", Email: "carol@example.com", FirstName: "Carol", LastName: "Ünal"}
		wantNoErr(t, db.CreateUser(ctx, u))
		byID, err := db.UserByID(ctx, u.ID)
		wantNoErr(t, err)
		byLogin, err := db.UserByLogin(ctx, "carol")
		wantNoErr(t, err)
		list, err := db.ListUsers(ctx)
		wantNoErr(t, err)
		for _, got := range []*warder.User{byID, byLogin, list[0]} {
			if got.FirstName != "Carol" || got.LastName != "Ünal" {
				t.Fatalf("names read back as %q %q", got.FirstName, got.LastName)
			}
		}
	})

	t.Run("GivenIDKept", func(t *testing.T) {
		db := open(t)
		u := &warder.User{ID: "fixed-id", Username: "bob", Email: "bob@example.com"}
		wantNoErr(t, db.CreateUser(ctx, u))
		if _, err := db.UserByID(ctx, "fixed-id"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("UsernameTakenIgnoringCase", func(t *testing.T) {
		db := open(t)
		MustCreateUser(t, db, "Alice")
		err := db.CreateUser(ctx, &warder.User{Username: "aLiCe", Email: "other@example.com"})
		wantErr(t, err, warder.ErrConflict, `username "aLiCe" is already taken`)
	})

	t.Run("EmailTakenIgnoringCase", func(t *testing.T) {
		db := open(t)
		MustCreateUser(t, db, "alice")
		err := db.CreateUser(ctx, &warder.User{Username: "bob", Email: "ALICE@Example.com"})
		wantErr(t, err, warder.ErrConflict, `email "ALICE@Example.com" is already taken`)
	})

	t.Run("ManyWithoutEmail", func(t *testing.T) {
		db := open(t)
		for _, name := range []string{"a", "b", "c"} {
			wantNoErr(t, db.CreateUser(ctx, &warder.User{Username: name}))
		}
		_, err := db.UserByLogin(ctx, "")
		wantErr(t, err, warder.ErrNotFound, "")
	})

	t.Run("InvalidRole", func(t *testing.T) {
		db := open(t)
		err := db.CreateUser(ctx, &warder.User{Username: "x", Role: "root"})
		wantErr(t, err, warder.ErrInvalid, "")
	})

	t.Run("NotFound", func(t *testing.T) {
		db := open(t)
		u, err := db.UserByID(ctx, "nope")
		wantErr(t, err, warder.ErrNotFound, "user not found")
		if u != nil {
			t.Fatalf("UserByID returned %+v with its error", u)
		}
	})

	t.Run("FirstUserIsAdmin", func(t *testing.T) {
		db := open(t)
		first := &warder.User{Username: "first", Role: warder.RoleUser}
		wantNoErr(t, db.CreateFirstUser(ctx, first))
		second := &warder.User{Username: "second", Role: warder.RoleUser}
		wantNoErr(t, db.CreateFirstUser(ctx, second))
		third := &warder.User{Username: "third", Role: warder.RoleAdmin}
		wantNoErr(t, db.CreateFirstUser(ctx, third))
		for u, want := range map[*warder.User]warder.Role{first: warder.RoleAdmin, second: warder.RoleUser, third: warder.RoleAdmin} {
			got, err := db.UserByID(ctx, u.ID)
			wantNoErr(t, err)
			if u.Role != want || got.Role != want {
				t.Errorf("%s: role %q, stored %q, want %q", u.Username, u.Role, got.Role, want)
			}
		}
		err := db.CreateFirstUser(ctx, &warder.User{Username: "FIRST"})
		wantErr(t, err, warder.ErrConflict, `username "FIRST" is already taken`)
	})

	t.Run("FirstUserRace", func(t *testing.T) {
		db := open(t)
		const n = 20
		users := make([]*warder.User, n)
		var wg sync.WaitGroup
		for i := range users {
			users[i] = &warder.User{Username: fmt.Sprintf("user%d", i)}
			wg.Go(func() {
				if err := db.CreateFirstUser(ctx, users[i]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		admins := 0
		for _, u := range users {
			if u.Role == warder.RoleAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("%d of %d racing first users became admin, want 1", admins, n)
		}
	})

	t.Run("ByLogin", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "Alice")
		for _, login := range []string{"Alice", "alice", "ALICE", "alice@example.com", "Alice@EXAMPLE.com"} {
			got, err := db.UserByLogin(ctx, login)
			wantNoErr(t, err)
			if got.ID != alice.ID {
				t.Errorf("UserByLogin(%q) = %s, want %s", login, got.ID, alice.ID)
			}
		}
		_, err := db.UserByLogin(ctx, "bob")
		wantErr(t, err, warder.ErrNotFound, "user not found")
	})

	t.Run("ByLoginPrefersUsername", func(t *testing.T) {
		db := open(t)
		byEmail := &warder.User{Username: "carol", Email: "dave@example.com"}
		wantNoErr(t, db.CreateUser(ctx, byEmail))
		byName := &warder.User{Username: "dave@example.com", Email: "d@example.com"}
		wantNoErr(t, db.CreateUser(ctx, byName))
		got, err := db.UserByLogin(ctx, "Dave@example.com")
		wantNoErr(t, err)
		if got.ID != byName.ID {
			t.Fatalf("UserByLogin matched %s by email, want %s by username", got.Username, byName.Username)
		}
	})

	t.Run("SetRole", func(t *testing.T) {
		db := open(t)
		u := MustCreateUser(t, db, "Alice")
		wantNoErr(t, db.SetUserRole(ctx, "alice", warder.RoleAdmin))
		got, err := db.UserByID(ctx, u.ID)
		wantNoErr(t, err)
		if got.Role != warder.RoleAdmin {
			t.Fatalf("role = %q after SetUserRole, want admin", got.Role)
		}
		// Setting the role it already has matches a row and succeeds.
		wantNoErr(t, db.SetUserRole(ctx, "ALICE", warder.RoleAdmin))
		wantErr(t, db.SetUserRole(ctx, "bob", warder.RoleAdmin), warder.ErrNotFound, `user "bob" not found`)
		wantErr(t, db.SetUserRole(ctx, "alice", "root"), warder.ErrInvalid, "")
	})
}
