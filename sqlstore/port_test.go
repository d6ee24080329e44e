package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/warder/warder"
)

func testPorts(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("ClaimAndRelease", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		a, b := MustCreateAgent(t, db, alice.ID, "a"), MustCreateAgent(t, db, alice.ID, "b")

		wantNoErr(t, db.ClaimPort(ctx, a.ID, 20001))
		wantErr(t, db.ClaimPort(ctx, b.ID, 20001), warder.ErrConflict, "port 20001 is already held")
		wantErr(t, db.ClaimPort(ctx, a.ID, 20002), warder.ErrConflict, "agent already holds port 20001")
		wantErr(t, db.ClaimPort(ctx, a.ID, 20001), warder.ErrConflict, "agent already holds port 20001")
		wantErr(t, db.ClaimPort(ctx, "ghost", 20003), warder.ErrNotFound, "agent not found")
		wantErr(t, db.ClaimPort(ctx, b.ID, 0), warder.ErrInvalid, "")
		wantErr(t, db.ClaimPort(ctx, b.ID, 70000), warder.ErrInvalid, "")
		wantNoErr(t, db.ClaimPort(ctx, b.ID, 20002))
		wantPorts(t, db, 20001, 20002)

		got, err := db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if got.HostPort != 20001 {
			t.Fatalf("HostPort = %d, want 20001", got.HostPort)
		}

		wantNoErr(t, db.ReleasePort(ctx, a.ID))
		wantNoErr(t, db.ReleasePort(ctx, a.ID))
		wantNoErr(t, db.ReleasePort(ctx, "ghost"))
		wantPorts(t, db, 20002)
		got, err = db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if got.HostPort != 0 {
			t.Fatalf("HostPort after release = %d, want 0", got.HostPort)
		}
		// A released port is free for anyone.
		c := MustCreateAgent(t, db, alice.ID, "c")
		wantNoErr(t, db.ClaimPort(ctx, c.ID, 20001))
		wantPorts(t, db, 20001, 20002)
	})

	t.Run("CreateWithPort", func(t *testing.T) {
		db := open(t)
		alice := MustCreateUser(t, db, "alice")
		a := &warder.Agent{UserID: alice.ID, Name: "a", HostPort: 20001}
		wantNoErr(t, db.CreateAgent(ctx, a))
		err := db.CreateAgent(ctx, &warder.Agent{UserID: alice.ID, Name: "b", HostPort: 20001})
		wantErr(t, err, warder.ErrConflict, "port 20001 is already held")
		wantPorts(t, db, 20001)
	})
}

// wantPorts fails unless UsedPorts is exactly want, in order.
func wantPorts(tb testing.TB, db *DB, want ...int) {
	tb.Helper()
	got, err := db.UsedPorts(context.Background())
	wantNoErr(tb, err)
	if want == nil {
		want = []int{}
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("UsedPorts = %v, want %v", got, want)
	}
}

// testConcurrency runs what a busy server does at once: many requests
// creating agents and claiming ports, from a pool exactly as large as the
// number of agents, so every port is fought over. Any error other than the
// ErrConflict of a lost race (a busy or locked database above all) fails.
func testConcurrency(t *testing.T, open opener) {
	ctx := context.Background()
	const workers, base = 50, 30000
	db := open(t)
	users := []*warder.User{MustCreateUser(t, db, "alice"), MustCreateUser(t, db, "bob"), MustCreateUser(t, db, "carol")}

	ports := make([]int, workers)
	agents := make([]*warder.Agent, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			a := &warder.Agent{UserID: users[i%len(users)].ID, Name: fmt.Sprintf("agent-%d", i)}
			if errs[i] = db.CreateAgent(ctx, a); errs[i] != nil {
				return
			}
			agents[i] = a
			ports[i], errs[i] = claimFromPool(ctx, db, a.ID, base, workers)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	sorted := slices.Sorted(slices.Values(ports))
	if want := seq(base, workers); !reflect.DeepEqual(sorted, want) {
		t.Fatalf("claimed ports %v, want each of %d..%d once", sorted, base, base+workers-1)
	}
	wantPorts(t, db, sorted...)
	for i, a := range agents {
		got, err := db.Agent(ctx, a.ID)
		wantNoErr(t, err)
		if got.HostPort != ports[i] {
			t.Errorf("agent %s holds %d, its worker claimed %d", a.Name, got.HostPort, ports[i])
		}
	}

	t.Run("SameName", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for i := range workers {
			wg.Go(func() {
				errs[i] = db.CreateAgent(ctx, &warder.Agent{UserID: users[0].ID, Name: "contested"})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, warder.ErrConflict):
				t.Errorf("CreateAgent: %v, want nil or ErrConflict", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d racing creations of one name succeeded, want 1", won, workers)
		}
	})
}

// claimFromPool claims a port in [base, base+size) for agentID the way the
// service does: skip the ports UsedPorts reports, try the rest in order,
// and on ErrConflict (another agent won that port) move to the next.
func claimFromPool(ctx context.Context, db *DB, agentID string, base, size int) (int, error) {
	for range 10 * size {
		used, err := db.UsedPorts(ctx)
		if err != nil {
			return 0, err
		}
		for p := base; p < base+size; p++ {
			if slices.Contains(used, p) {
				continue
			}
			err := db.ClaimPort(ctx, agentID, p)
			if err == nil {
				return p, nil
			}
			if !errors.Is(err, warder.ErrConflict) {
				return 0, err
			}
		}
	}
	return 0, fmt.Errorf("no free port in %d..%d", base, base+size-1)
}

// seq returns n consecutive integers from first.
func seq(first, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = first + i
	}
	return s
}
