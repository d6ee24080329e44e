package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// outageCalls are store calls that succeed on a healthy database with
// alice and her agent in it; each run uses new names, so repeating one is
// fine.
func outageCalls(db *DB, alice *warder.User, agent *warder.Agent) []struct {
	name string
	call func(ctx context.Context, run int) error
} {
	return []struct {
		name string
		call func(ctx context.Context, run int) error
	}{
		{"Ping", func(ctx context.Context, _ int) error { return db.Ping(ctx) }},
		{"Agent", func(ctx context.Context, _ int) error { _, err := db.Agent(ctx, agent.ID); return err }},
		{"ListAgents", func(ctx context.Context, _ int) error { _, err := db.ListAgents(ctx, warder.AgentFilter{}); return err }},
		{"CreateAgent", func(ctx context.Context, run int) error {
			return db.CreateAgent(ctx, &warder.Agent{UserID: alice.ID, Name: fmt.Sprintf("new-%d", run)})
		}},
		{"UpdateAgent", func(ctx context.Context, run int) error {
			a := *agent
			a.Description = fmt.Sprint(run)
			return db.UpdateAgent(ctx, &a)
		}},
		{"ClaimPort", func(ctx context.Context, run int) error { return db.ClaimPort(ctx, agent.ID, 20000+run) }},
		{"ReleasePort", func(ctx context.Context, _ int) error { return db.ReleasePort(ctx, agent.ID) }},
		{"UsedPorts", func(ctx context.Context, _ int) error { _, err := db.UsedPorts(ctx); return err }},
		{"CreateUser", func(ctx context.Context, run int) error {
			return db.CreateUser(ctx, &warder.User{Username: fmt.Sprintf("user-%d", run)})
		}},
		{"CreateFirstUser", func(ctx context.Context, run int) error {
			return db.CreateFirstUser(ctx, &warder.User{Username: fmt.Sprintf("first-%d", run)})
		}},
		{"UserByID", func(ctx context.Context, _ int) error { _, err := db.UserByID(ctx, alice.ID); return err }},
		{"UserByLogin", func(ctx context.Context, _ int) error { _, err := db.UserByLogin(ctx, "alice"); return err }},
		{"SetUserRole", func(ctx context.Context, _ int) error { return db.SetUserRole(ctx, "alice", warder.RoleUser) }},
		{"CreateToken", func(ctx context.Context, run int) error {
			return db.CreateToken(ctx, &warder.Token{Hash: fmt.Sprintf("h%d", run), UserID: alice.ID, ExpiresAt: time.Now().Add(time.Hour)})
		}},
		{"UserByToken", func(ctx context.Context, run int) error {
			_, err := db.UserByToken(ctx, fmt.Sprintf("h%d", run-1), time.Now())
			return err
		}},
		{"DeleteToken", func(ctx context.Context, _ int) error { return db.DeleteToken(ctx, "h0") }},
		{"DeleteExpiredTokens", func(ctx context.Context, _ int) error { return db.DeleteExpiredTokens(ctx, time.Now()) }},
		{"RecordStatus", func(ctx context.Context, run int) error {
			a := *agent
			return db.RecordStatus(ctx, &a, &warder.AgentEvent{At: time.Now(), From: a.Status, To: a.Status, Reason: fmt.Sprint(run)})
		}},
		{"AgentEvents", func(ctx context.Context, _ int) error { _, err := db.AgentEvents(ctx, agent.ID, 10); return err }},
		{"TouchAgent", func(ctx context.Context, _ int) error { return db.TouchAgent(ctx, agent.ID, time.Now()) }},
		{"SchemaVersion", func(ctx context.Context, _ int) error { _, err := db.SchemaVersion(ctx); return err }},
		{"Migrate", func(ctx context.Context, _ int) error { return db.Migrate(ctx) }},
	}
}

// TestPostgresOutage stops the server under an open store: every call must
// fail fast with ErrUnavailable, and once the server is back the same
// handle must work again, from the first call on.
func TestPostgresOutage(t *testing.T) {
	srv := testenv.NewPostgresServer(t)
	db := mustOpenURL(t, srv.NewDatabase(t))
	alice := MustCreateUser(t, db, "alice")
	agent := MustCreateAgent(t, db, alice.ID, "helper")
	calls := outageCalls(db, alice, agent)
	// Fill the pool, so the outage finds idle connections to trip over.
	wantNoErr(t, errorsOf(race(8, [2]*DB{db, db}, func(int, *DB) error { return db.Ping(context.Background()) })))

	run := 0
	for _, c := range calls { // the calls work before the outage
		run++
		wantNoErr(t, c.call(context.Background(), run))
	}

	srv.Stop(t)
	for _, c := range calls {
		run++
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		err := c.call(ctx, run)
		took := time.Since(start)
		cancel()
		if !strings.HasPrefix(fmt.Sprint(err), "database unavailable: ") {
			t.Errorf("%s during the outage = %v, want %q", c.name, err, "database unavailable: ...")
		}
		wantErr(t, err, warder.ErrUnavailable, "")
		if took > 2*time.Second {
			t.Errorf("%s took %v to fail; a refused connection should fail at once", c.name, took)
		}
	}

	srv.Start(t)
	for _, c := range calls {
		run++
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := c.call(ctx, run)
		cancel()
		if err != nil {
			t.Errorf("%s after the server came back = %v, want nil", c.name, err)
		}
	}
	if _, err := db.UserByID(context.Background(), alice.ID); err != nil {
		t.Fatalf("data lost across the restart: %v", err)
	}
}

// errorsOf returns the first non-nil error of errs.
func errorsOf(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestPostgresConnectionLostMidQuery cuts the connection of a store call
// that is waiting inside the database: by terminating its session (the
// server says 57P01 first) and by killing its server process (the socket
// just closes). Either way the call fails with ErrUnavailable, and the
// store works again afterwards.
func TestPostgresConnectionLostMidQuery(t *testing.T) {
	srv := testenv.NewPostgresServer(t)
	url := srv.NewDatabase(t)
	db, holder := mustOpenURL(t, url), mustOpenURL(t, url)
	ctx := context.Background()
	alice := MustCreateUser(t, db, "alice")
	agent := MustCreateAgent(t, db, alice.ID, "helper")

	for _, c := range []struct {
		name string
		cut  func(pid int) error
	}{
		{"Terminated", func(pid int) error {
			_, err := holder.db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid)
			return err
		}},
		{"Killed", func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The holder locks the agent's row, so UpdateAgent waits inside
			// the database until its connection is cut.
			tx, err := holder.db.BeginTx(ctx, nil)
			wantNoErr(t, err)
			defer tx.Rollback()
			_, err = tx.ExecContext(ctx, `SELECT 1 FROM agents WHERE id = $1 FOR UPDATE`, agent.ID)
			wantNoErr(t, err)

			done := make(chan error, 1)
			go func() {
				a := *agent
				a.Description = c.name
				callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				done <- db.UpdateAgent(callCtx, &a)
			}()
			waitForLockWait(t, holder, done)
			var pid int
			wantNoErr(t, holder.db.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&pid))
			wantNoErr(t, c.cut(pid))
			err = <-done
			wantErr(t, err, warder.ErrUnavailable, "")
			t.Logf("UpdateAgent after its connection was cut: %v", err)
			tx.Rollback()

			// A killed server process makes PostgreSQL restart every
			// session and recover, refusing connections meanwhile.
			deadline := time.Now().Add(30 * time.Second)
			for db.Ping(ctx) != nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			a := *agent
			a.Description = "after " + c.name
			wantNoErr(t, db.UpdateAgent(ctx, &a))
		})
	}
}

// TestPostgresDeadPooledConnections ends every session of the store's pool
// while the server stays up (an administrator, a proxy restart, a
// failover), within a second of their last use, so pgx does not ping them
// before reuse. Every call must still succeed: the store relies on pgx
// noticing a connection the server closed before sending on it, so that
// database/sql takes another instead of failing the call.
func TestPostgresDeadPooledConnections(t *testing.T) {
	ctx := context.Background()
	url := testenv.Postgres(t)
	db, admin := mustOpenURL(t, url), mustOpenURL(t, url)
	alice := MustCreateUser(t, db, "alice")
	const pool = 6
	// Run UserByID's query on pool connections held at once, so that each
	// has its statement prepared (pgx caches it per connection) and is left
	// idle in the pool.
	conns := make([]*sql.Conn, pool)
	for i := range conns {
		c, err := db.db.Conn(ctx)
		wantNoErr(t, err)
		_, err = scanUser(c.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, alice.ID))
		wantNoErr(t, err)
		conns[i] = c
	}
	for _, c := range conns {
		c.Close()
	}
	var killed int
	wantNoErr(t, admin.db.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&killed))
	if killed < pool {
		t.Fatalf("ended %d sessions, want at least %d", killed, pool)
	}
	for i := range pool {
		if _, err := db.UserByID(ctx, alice.ID); err != nil {
			t.Fatalf("call %d after the pool's sessions ended: %v", i, err)
		}
	}
}
