package runtimetest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/warder/warder"
	"github.com/warder/warder/sqlstore"
)

// TestFakeConforms: the fake the service's tests stand on passes the same
// suite as the real runtimes, with host ports claimed in a real store.
func TestFakeConforms(t *testing.T) {
	db, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u := &warder.User{ID: uuid.NewString(), Username: "owner", Email: "owner@example.com", PasswordHash: "x", Role: warder.RoleUser}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	fake := NewFake(db, 30000, 30099)
	Run(t, Harness{
		Runtime: fake,
		Spec: func(t *testing.T) warder.WorkloadSpec {
			return AgentSpec(t, db, u.ID, "warder/agent:latest", warder.SpecSettings{Network: "fake"})
		},
	})
}
