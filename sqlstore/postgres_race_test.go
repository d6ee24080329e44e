package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// Two handles on one database stand for two warder processes: they share
// nothing but the database, so only its constraints and locks keep them
// apart.

// mustOpenTwo opens two handles on one fresh PostgreSQL database.
func mustOpenTwo(t *testing.T) (*DB, *DB) {
	t.Helper()
	url := testenv.Postgres(t)
	return mustOpenURL(t, url), mustOpenURL(t, url)
}

// race runs f(i, handle) for i in [0, n) at once, alternating the handles,
// and returns the errors by i.
func race(n int, dbs [2]*DB, f func(i int, db *DB) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i, dbs[i%2])
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner fails unless exactly one of errs is nil and every other is
// ErrConflict with message msg.
func wantOneWinner(t *testing.T, errs []error, msg string) {
	t.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		if !errors.Is(err, warder.ErrConflict) || warder.ErrorMessage(err) != msg {
			t.Errorf("loser's error = %v, want ErrConflict %q", err, msg)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racers won, want 1", won, len(errs))
	}
}

// TestPostgresTwoProcessPorts claims ports for 40 agents at once from both
// handles out of a pool of 40: every claim fights over the lowest free
// port, each port must end with one agent, and every lost fight must say
// which port was taken.
func TestPostgresTwoProcessPorts(t *testing.T) {
	ctx := context.Background()
	a, b := mustOpenTwo(t)
	const n, base = 40, 31000
	owner := MustCreateUser(t, a, "alice")
	agents := make([]*warder.Agent, n)
	for i := range agents {
		agents[i] = MustCreateAgent(t, a, owner.ID, fmt.Sprintf("agent-%d", i))
	}
	ports := make([]int, n)
	var mu sync.Mutex
	lost := 0
	errs := race(n, [2]*DB{a, b}, func(i int, db *DB) error {
		for p := base; p < base+n; p++ {
			err := db.ClaimPort(ctx, agents[i].ID, p)
			if err == nil {
				ports[i] = p
				return nil
			}
			if msg := fmt.Sprintf("port %d is already held", p); !errors.Is(err, warder.ErrConflict) || warder.ErrorMessage(err) != msg {
				return fmt.Errorf("claim %d: %w, want ErrConflict %q", p, err, msg)
			}
			mu.Lock()
			lost++
			mu.Unlock()
		}
		return fmt.Errorf("no port left for agent %d", i)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if want := seq(base, n); !reflect.DeepEqual(slices.Sorted(slices.Values(ports)), want) {
		t.Fatalf("claimed ports %v, want each of %d..%d once", ports, base, base+n-1)
	}
	if lost == 0 {
		t.Fatal("no claim lost a race; the test did not make the claims contend")
	}
	for _, db := range []*DB{a, b} {
		wantPorts(t, db, seq(base, n)...)
	}
	for i, ag := range agents {
		got, err := b.Agent(ctx, ag.ID)
		wantNoErr(t, err)
		if got.HostPort != ports[i] {
			t.Errorf("agent %d holds %d, its claim won %d", i, got.HostPort, ports[i])
		}
	}
	t.Logf("%d claims lost a race", lost)
}

// TestPostgresTwoProcessUsers registers one username from both handles at
// once: one registration wins and every other gets the username message.
func TestPostgresTwoProcessUsers(t *testing.T) {
	ctx := context.Background()
	a, b := mustOpenTwo(t)
	errs := race(20, [2]*DB{a, b}, func(i int, db *DB) error {
		return db.CreateUser(ctx, &warder.User{Username: "alice", Email: fmt.Sprintf("alice%d@example.com", i)})
	})
	wantOneWinner(t, errs, `username "alice" is already taken`)
}

// TestPostgresTwoProcessAgentNames creates one agent name for one user from
// both handles at once: one creation wins, the rest get the name message.
func TestPostgresTwoProcessAgentNames(t *testing.T) {
	ctx := context.Background()
	a, b := mustOpenTwo(t)
	owner := MustCreateUser(t, a, "alice")
	errs := race(20, [2]*DB{a, b}, func(_ int, db *DB) error {
		return db.CreateAgent(ctx, &warder.Agent{UserID: owner.ID, Name: "helper"})
	})
	wantOneWinner(t, errs, `an agent named "helper" already exists`)
	list, err := b.ListAgents(ctx, warder.AgentFilter{UserID: owner.ID})
	wantNoErr(t, err)
	if len(list) != 1 {
		t.Fatalf("alice has %d agents, want 1", len(list))
	}
}

// TestPostgresTwoProcessVisibility checks that what one handle commits the
// other reads at once: no cache stands between a handle and the database.
func TestPostgresTwoProcessVisibility(t *testing.T) {
	ctx := context.Background()
	a, b := mustOpenTwo(t)
	u := MustCreateUser(t, a, "alice")
	got, err := b.UserByLogin(ctx, "ALICE")
	wantNoErr(t, err)
	if got.ID != u.ID {
		t.Fatalf("b sees user %s, a made %s", got.ID, u.ID)
	}
	wantNoErr(t, b.SetUserRole(ctx, "alice", warder.RoleAdmin))
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.Role != warder.RoleAdmin {
		t.Fatalf("a reads role %v (%v) after b made alice admin", got, err)
	}

	ag := MustCreateAgent(t, b, u.ID, "helper")
	wantNoErr(t, a.ClaimPort(ctx, ag.ID, 20001))
	wantPorts(t, b, 20001)
	ag.Description = "written by b"
	wantNoErr(t, b.UpdateAgent(ctx, ag))
	if got, err := a.Agent(ctx, ag.ID); err != nil || got.Description != ag.Description || got.HostPort != 20001 {
		t.Fatalf("a reads %+v (%v) after b's update", got, err)
	}

	tok := &warder.Token{Hash: "h", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
	wantNoErr(t, a.CreateToken(ctx, tok))
	if _, err := b.UserByToken(ctx, "h", time.Now()); err != nil {
		t.Fatalf("b does not find a's token: %v", err)
	}
	wantNoErr(t, b.DeleteToken(ctx, "h"))
	_, err = a.UserByToken(ctx, "h", time.Now())
	wantErr(t, err, warder.ErrNotFound, "")

	wantNoErr(t, a.DeleteAgent(ctx, ag.ID))
	_, err = b.Agent(ctx, ag.ID)
	wantErr(t, err, warder.ErrNotFound, "agent not found")
	wantPorts(t, b)
}

// TestPostgresPrecheckRaces makes the loser of each race pass its
// pre-check for certain: the winner's row is written but not committed
// (READ COMMITTED does not show it), the loser's write then waits on the
// unique index, and only the constraint's name can give it the right
// message when the winner commits.
func TestPostgresPrecheckRaces(t *testing.T) {
	ctx := context.Background()
	type fixture struct {
		alice *warder.User
		agent *warder.Agent // alice's "helper", holding no port
	}
	for _, c := range []struct {
		name string
		win  func(tx *sql.Tx, f fixture) error // in the winner's open transaction
		lose func(db *DB, f fixture) error
		msg  string
	}{
		{"Username",
			func(tx *sql.Tx, _ fixture) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO users (id, username, username_key, role, password_hash, created_at)
					VALUES ('u2', 'Bob', 'bob', 'user', '', now())`)
				return err
			},
			func(db *DB, _ fixture) error { return db.CreateUser(ctx, &warder.User{Username: "BOB"}) },
			`username "BOB" is already taken`},
		{"Email",
			func(tx *sql.Tx, _ fixture) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO users (id, username, username_key, email, email_key, role, password_hash, created_at)
					VALUES ('u2', 'bob', 'bob', 'x@example.com', 'x@example.com', 'user', '', now())`)
				return err
			},
			func(db *DB, _ fixture) error {
				return db.CreateUser(ctx, &warder.User{Username: "carol", Email: "X@example.com"})
			},
			`email "X@example.com" is already taken`},
		{"AgentName",
			func(tx *sql.Tx, f fixture) error { return insertAgent(tx, f.alice.ID, "twin", 0) },
			func(db *DB, f fixture) error {
				return db.CreateAgent(ctx, &warder.Agent{UserID: f.alice.ID, Name: "twin"})
			},
			`an agent named "twin" already exists`},
		{"Rename",
			func(tx *sql.Tx, f fixture) error { return insertAgent(tx, f.alice.ID, "twin", 0) },
			func(db *DB, f fixture) error {
				f.agent.Name = "twin"
				return db.UpdateAgent(ctx, f.agent)
			},
			`an agent named "twin" already exists`},
		{"PortOnCreate",
			func(tx *sql.Tx, f fixture) error { return insertAgent(tx, f.alice.ID, "other", 20001) },
			func(db *DB, f fixture) error {
				return db.CreateAgent(ctx, &warder.Agent{UserID: f.alice.ID, Name: "third", HostPort: 20001})
			},
			`port 20001 is already held`},
		{"ClaimPort",
			func(tx *sql.Tx, f fixture) error { return insertAgent(tx, f.alice.ID, "other", 20001) },
			func(db *DB, f fixture) error { return db.ClaimPort(ctx, f.agent.ID, 20001) },
			`port 20001 is already held`},
	} {
		t.Run(c.name, func(t *testing.T) {
			winner, loser := mustOpenTwo(t)
			alice := MustCreateUser(t, winner, "alice")
			f := fixture{alice, MustCreateAgent(t, winner, alice.ID, "helper")}
			tx, err := winner.db.BeginTx(ctx, nil)
			wantNoErr(t, err)
			defer tx.Rollback()
			wantNoErr(t, c.win(tx, f))

			done := make(chan error, 1)
			go func() { done <- c.lose(loser, f) }()
			waitForLockWait(t, winner, done)
			wantNoErr(t, tx.Commit())
			wantErr(t, <-done, warder.ErrConflict, c.msg)
		})
	}
}

// insertAgent writes a bare agent row in tx, holding port unless it is 0.
func insertAgent(tx *sql.Tx, userID, name string, port int) error {
	_, err := tx.ExecContext(context.Background(), `
		INSERT INTO agents (id, user_id, name, status, host_port, created_at, updated_at)
		VALUES ($1, $2, $3, 'created', $4, now(), now())`,
		testenv.UniqueName("agent-"), userID, name, nullPort(port))
	return err
}

// waitForLockWait returns once some session of db's database waits for a
// lock, and fails if the loser finished first (its pre-check saw the row)
// or nothing waits within ten seconds.
func waitForLockWait(t *testing.T, db *DB, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("the loser returned %v before waiting on the winner's row", err)
		default:
		}
		var waiting bool
		err := db.db.QueryRowContext(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting)
		wantNoErr(t, err)
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the loser never waited on the winner's row")
}

// TestPostgresFirstUserRace leaves a user inserted but not committed in
// one transaction while CreateFirstUser runs from the other handle: READ
// COMMITTED would show it no users, so it must wait for the insert, then
// see it and not make itself admin.
func TestPostgresFirstUserRace(t *testing.T) {
	ctx := context.Background()
	a, b := mustOpenTwo(t)
	tx, err := a.db.BeginTx(ctx, nil)
	wantNoErr(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO users (id, username, username_key, role, password_hash, created_at)
		VALUES ('u1', 'first', 'first', 'admin', '', now())`)
	wantNoErr(t, err)

	second := &warder.User{Username: "second"}
	done := make(chan error, 1)
	go func() { done <- b.CreateFirstUser(ctx, second) }()
	waitForLockWait(t, a, done)
	wantNoErr(t, tx.Commit())
	wantNoErr(t, <-done)
	if second.Role != warder.RoleUser {
		t.Fatalf("second user's role = %q, want %q: two first users became admin", second.Role, warder.RoleUser)
	}
}

// TestPostgresTwoProcessLLMUsage records one agent's calls from both
// handles at once: every call counts, and each handle reads the same
// totals afterwards.
func TestPostgresTwoProcessLLMUsage(t *testing.T) {
	ctx := context.Background()
	a, b := mustOpenTwo(t)
	at := time.Now()
	errs := race(60, [2]*DB{a, b}, func(i int, db *DB) error {
		return db.RecordLLMCall(ctx, warder.LLMCall{AgentID: "agent", UserID: "user", Model: fmt.Sprint("m", i%3), PromptTokens: 10, CompletionTokens: 5, At: at})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, db := range []*DB{a, b} {
		if got, err := db.LLMTotals(ctx, "agent", "user", at); err != nil || got != (warder.LLMTotals{AgentDay: 900, AgentMonth: 900, UserDay: 900, UserMonth: 900}) {
			t.Errorf("totals = %+v, %v; want 900 tokens each", got, err)
		}
	}
}
