package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A test binary that calls Postgres must stop the shared cluster itself,
// since nothing runs after its tests otherwise:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testenv.StopPostgres()
//		os.Exit(code)
//	}
//
// Clusters left behind by a binary that dies first (a panic, a -timeout)
// are stopped and removed by a watchdog within a second or two.

// shared is the one server per test binary that Postgres makes databases
// on: the WARDER_TEST_DATABASE_URL server, or a throwaway cluster started
// on first use. err remembers why there is none, so every later test skips
// (or fails) at once instead of trying again.
var shared struct {
	mu  sync.Mutex
	srv *PostgresServer
	err error
}

// Postgres returns the URL of a fresh, empty database for tb alone,
// dropped when tb ends. The database is created on the server named by
// WARDER_TEST_DATABASE_URL when that is set (its user must be allowed to
// CREATE DATABASE; the server must be PostgreSQL 13 or newer), and
// otherwise on a throwaway cluster this test binary starts from the
// installed PostgreSQL binaries and StopPostgres removes.
//
// Without a server tb is skipped; WARDER_REQUIRE_POSTGRES=1 fails it
// instead.
func Postgres(tb testing.TB) string {
	tb.Helper()
	srv, err := sharedPostgres()
	if err != nil {
		missingPostgres(tb, err)
	}
	return srv.NewDatabase(tb)
}

// StopPostgres stops and removes the throwaway cluster Postgres started,
// if it did; see the TestMain above. Call it once, after m.Run: later
// calls of Postgres fail or skip.
func StopPostgres() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil && shared.srv.dir != "" {
		if err := shared.srv.destroy(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop PostgreSQL: %v\n", err)
		}
	}
	shared.srv, shared.err = nil, errors.New("StopPostgres has been called")
}

func sharedPostgres() (*PostgresServer, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		if u := os.Getenv("WARDER_TEST_DATABASE_URL"); u != "" {
			shared.srv, shared.err = externalPostgres(u)
		} else {
			shared.srv, shared.err = startCluster()
		}
	}
	return shared.srv, shared.err
}

// missingPostgres skips tb, or fails it under WARDER_REQUIRE_POSTGRES=1,
// as Docker does for its engine.
func missingPostgres(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("WARDER_REQUIRE_POSTGRES") == "1" {
		tb.Fatalf("PostgreSQL is required (WARDER_REQUIRE_POSTGRES=1) but unavailable: %v", err)
	}
	tb.Skipf("PostgreSQL is unavailable (set WARDER_REQUIRE_POSTGRES=1 to fail instead): %v", err)
}

// PostgresServer is a PostgreSQL server tests make databases on: either a
// throwaway cluster this package started (see NewPostgresServer), which a
// test may stop and start again, or the server of WARDER_TEST_DATABASE_URL.
type PostgresServer struct {
	admin url.URL // a superuser's URL of the maintenance database
	// The rest is set only for a cluster this package started.
	dir     string // holds data/, sock/ and postgres.log
	bin     string // the directory of initdb and pg_ctl
	as      *runAs // nil unless initdb and pg_ctl must run as postgres
	stopped atomic.Bool
}

// externalPostgres is the server of a WARDER_TEST_DATABASE_URL, checked
// to answer so that a wrong URL skips (or fails) tests with its reason.
func externalPostgres(raw string) (*PostgresServer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("WARDER_TEST_DATABASE_URL is not a postgres:// URL")
	}
	s := &PostgresServer{admin: *u}
	if err := s.exec(`SELECT 1`); err != nil {
		return nil, fmt.Errorf("WARDER_TEST_DATABASE_URL: %w", err)
	}
	return s, nil
}

// URL returns the URL of the database named db on this server.
func (s *PostgresServer) URL(db string) string {
	u := s.admin
	u.Path = "/" + db
	u.RawPath = ""
	return u.String()
}

// NewDatabase creates an empty database with a unique name and returns its
// URL. The database is dropped, however many connections still use it,
// when tb ends; on a cluster tb left stopped it goes with the cluster.
func (s *PostgresServer) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := UniqueName("warder_test_") // lower-case hex: a plain identifier
	if err := s.exec(`CREATE DATABASE ` + name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if s.stopped.Load() {
			return
		}
		// WITH (FORCE) ends sessions a failed test left open. A test that
		// killed a server process leaves the cluster restarting its
		// sessions for a moment, refusing or resetting connections, so a
		// failed drop is tried again for a while.
		drop := `DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`
		err := s.exec(drop)
		for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			err = s.exec(drop)
		}
		if err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	return s.URL(name)
}

// exec runs one statement in the maintenance database. CREATE and DROP
// DATABASE cannot run in a transaction, so this uses a plain connection.
func (s *PostgresServer) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.admin.String())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
