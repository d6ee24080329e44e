package docker

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/sqlstore"
)

// TestConformance runs the runtime conformance suite against the real
// engine, with host-port claims in a real store.
func TestConformance(t *testing.T) {
	testenv.Docker(t)
	conformance(t, func(mod func(*Config)) *Runtime { return newRuntime(t, mod) })
}

// conformance runs the suite on the runtime newRT makes, given a Config
// change that adds the store.
func conformance(t *testing.T, newRT func(mod func(*Config)) *Runtime) {
	db, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u := &warder.User{ID: uuid.NewString(), Username: "owner", Email: "owner@example.com", PasswordHash: "x", Role: warder.RoleUser}
	must(t, db.CreateUser(context.Background(), u))
	r := newRT(func(c *Config) { c.Ports = db })
	must(t, r.Setup(context.Background()))
	runtimetest.Run(t, runtimetest.Harness{
		Runtime: r,
		Spec: func(t *testing.T) warder.WorkloadSpec {
			spec := runtimetest.AgentSpec(t, db, u.ID, r.cfg.DefaultImage, warder.SpecSettings{Network: r.cfg.Network})
			t.Cleanup(func() {
				ctx, cancel := cleanupCtx()
				defer cancel()
				// Remove, not removeContainer: on Podman the agent's
				// network goes with its container.
				if err := r.Remove(ctx, spec.Name); err != nil {
					t.Errorf("cleanup: remove container %s: %v", spec.Name, err)
				}
			})
			return spec
		},
	})
}
