package sqlstore

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testAgents(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		a := &warder.Agent{
			UserID:      alice.ID,
			Name:        "helper",
			Description: "answers questions ✓",
			Type:        "chat",
			Config: map[string]any{
				"model": "x-1", "temperature": 0.25, "stream": true, "none": nil,
				"tools": []any{"search", 3.0}, "limits": map[string]any{"tokens": 4096.0},
			},
			ContainerConfig: warder.ContainerConfig{
				Image: "warder/agent:1", MemoryLimit: "512m", CPULimit: 1.5,
				EnvVars: map[string]string{"A": "1", "QUOTE": `"x" 'y'`}, Port: 8000,
			},
			Status:          warder.StatusRunning,
			ContainerID:     "cid",
			ContainerName:   "warder-agent-x",
			ContainerStatus: "running",
		}
		before := time.Now().UTC().Truncate(time.Microsecond)
		wantNoErr(t, db.CreateAgent(ctx, a))
		if a.ID == "" || a.CreatedAt.Before(before) || !a.UpdatedAt.Equal(a.CreatedAt) || a.CreatedAt.Location() != time.UTC {
			t.Fatalf("created agent: ID %q, CreatedAt %v, UpdatedAt %v", a.ID, a.CreatedAt, a.UpdatedAt)
		}
		got, err := db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("Agent =\n%+v\nwant\n%+v", got, a)
		}
	})

	t.Run("NilMapsReadBackEmpty", func(t *testing.T) {
		db := open(t)
		a := MustCreateAgent(t, db, MustCreateUser(t, db, "alice").ID, "bare")
		if a.Status != warder.StatusCreated {
			t.Errorf("Status = %q, want %q", a.Status, warder.StatusCreated)
		}
		got, err := db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if got.Config == nil || len(got.Config) != 0 || got.ContainerConfig.EnvVars == nil || len(got.ContainerConfig.EnvVars) != 0 {
			t.Fatalf("Config %#v, EnvVars %#v; want empty, non-nil maps", got.Config, got.ContainerConfig.EnvVars)
		}
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("Agent =\n%+v\nwant\n%+v", got, a)
		}
		var config string
		wantNoErr(t, db.db.QueryRowContext(ctx, `SELECT config FROM agents WHERE id = $1`, a.ID).Scan(&config))
		if config != "{}" {
			t.Fatalf("nil config stored as %q, want {}", config)
		}
	})

	t.Run("NameUniquePerUser", func(t *testing.T) {
		db := open(t)
		alice, bob := MustCreateUser(t, db, "alice"), MustCreateUser(t, db, "bob")
		MustCreateAgent(t, db, alice.ID, "helper")
		err := db.CreateAgent(ctx, &warder.Agent{UserID: alice.ID, Name: "helper"})
		wantErr(t, err, warder.ErrConflict, `an agent named "helper" already exists`)
		MustCreateAgent(t, db, bob.ID, "helper")
	})

	t.Run("UnknownUser", func(t *testing.T) {
		db := open(t)
		err := db.CreateAgent(ctx, &warder.Agent{UserID: "ghost", Name: "x"})
		wantErr(t, err, warder.ErrNotFound, "user not found")
	})

	t.Run("NotFound", func(t *testing.T) {
		db := open(t)
		a, err := db.Agent(ctx, "nope")
		wantErr(t, err, warder.ErrNotFound, "agent not found")
		if a != nil {
			t.Fatalf("Agent returned %+v with its error", a)
		}
		wantErr(t, db.DeleteAgent(ctx, "nope"), warder.ErrNotFound, "agent not found")
		wantErr(t, db.UpdateAgent(ctx, &warder.Agent{ID: "nope", Name: "x"}), warder.ErrNotFound, "agent not found")
	})

	t.Run("List", func(t *testing.T) {
		db := open(t)
		alice, bob := MustCreateUser(t, db, "alice"), MustCreateUser(t, db, "bob")
		all, err := db.ListAgents(ctx, warder.AgentFilter{})
		wantNoErr(t, err)
		if all == nil || len(all) != 0 {
			t.Fatalf("ListAgents on an empty store = %#v, want an empty non-nil slice", all)
		}
		var want []*warder.Agent
		for _, name := range []string{"a1", "b1", "a2", "a3", "b2"} {
			owner := alice
			if name[0] == 'b' {
				owner = bob
			}
			want = append(want, MustCreateAgent(t, db, owner.ID, name))
		}
		// Agents made within one microsecond share created_at; id decides.
		slices.SortStableFunc(want, func(x, y *warder.Agent) int {
			return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
		})
		all, err = db.ListAgents(ctx, warder.AgentFilter{})
		wantNoErr(t, err)
		if !reflect.DeepEqual(all, want) {
			t.Fatalf("ListAgents(all) = %v, want %v", names(all), names(want))
		}
		mine, err := db.ListAgents(ctx, warder.AgentFilter{UserID: alice.ID})
		wantNoErr(t, err)
		wantMine := slices.DeleteFunc(slices.Clone(want), func(a *warder.Agent) bool { return a.UserID != alice.ID })
		if !reflect.DeepEqual(mine, wantMine) {
			t.Fatalf("ListAgents(alice) = %v, want %v", names(mine), names(wantMine))
		}
		none, err := db.ListAgents(ctx, warder.AgentFilter{UserID: "ghost"})
		wantNoErr(t, err)
		if none == nil || len(none) != 0 {
			t.Fatalf("ListAgents(ghost) = %v, want empty", names(none))
		}
	})

	t.Run("Update", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		a := MustCreateAgent(t, db, alice.ID, "helper")
		other := MustCreateAgent(t, db, alice.ID, "other")
		created := a.CreatedAt
		time.Sleep(2 * time.Millisecond)
		a.Name, a.Description, a.Type = "renamed", "new", "batch"
		a.Config = map[string]any{"k": "v"}
		a.ContainerConfig = warder.ContainerConfig{Image: "img", MemoryLimit: "1g", CPULimit: 2, EnvVars: map[string]string{"X": "y"}, Port: 9000}
		a.Status, a.ContainerID, a.ContainerName, a.ContainerStatus = warder.StatusFailed, "c2", "n2", "exited"
		wantNoErr(t, db.UpdateAgent(ctx, a))
		if !a.UpdatedAt.After(created) || !a.CreatedAt.Equal(created) {
			t.Fatalf("after update CreatedAt %v, UpdatedAt %v; want UpdatedAt after %v", a.CreatedAt, a.UpdatedAt, created)
		}
		got, err := db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("Agent after update =\n%+v\nwant\n%+v", got, a)
		}
		// Keeping its own name is no clash; taking a sibling's is.
		wantNoErr(t, db.UpdateAgent(ctx, a))
		a.Name = other.Name
		wantErr(t, db.UpdateAgent(ctx, a), warder.ErrConflict, `an agent named "other" already exists`)
	})

	t.Run("UpdateLeavesPortAlone", func(t *testing.T) {
		db := open(t)
		a := MustCreateAgent(t, db, MustCreateUser(t, db, "alice").ID, "helper")
		stale := *a
		wantNoErr(t, db.ClaimPort(ctx, a.ID, 20001))
		stale.Description = "written from a copy read before the claim"
		wantNoErr(t, db.UpdateAgent(ctx, &stale))
		if stale.HostPort != 20001 {
			t.Fatalf("UpdateAgent left HostPort %d in the struct, want the stored 20001", stale.HostPort)
		}
		got, err := db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if got.HostPort != 20001 || got.Description != stale.Description {
			t.Fatalf("stored HostPort %d, description %q", got.HostPort, got.Description)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		db := open(t)
		a := MustCreateAgent(t, db, MustCreateUser(t, db, "alice").ID, "helper")
		wantNoErr(t, db.ClaimPort(ctx, a.ID, 20001))
		wantNoErr(t, db.DeleteAgent(ctx, a.ID))
		_, err := db.Agent(ctx, a.ID)
		wantErr(t, err, warder.ErrNotFound, "")
		wantErr(t, db.DeleteAgent(ctx, a.ID), warder.ErrNotFound, "agent not found")
		ports, err := db.UsedPorts(ctx)
		wantNoErr(t, err)
		if len(ports) != 0 {
			t.Fatalf("UsedPorts after deleting the holder = %v", ports)
		}
	})
}

// names lists the agents' names, for failure messages.
func names(agents []*warder.Agent) []string {
	var s []string
	for _, a := range agents {
		s = append(s, a.Name)
	}
	return s
}
