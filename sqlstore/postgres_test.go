package sqlstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// MustOpenPostgres opens the store on a fresh PostgreSQL database, closed
// when the test ends; see testenv.Postgres for where the server comes from.
func MustOpenPostgres(t *testing.T) *DB {
	t.Helper()
	return mustOpenURL(t, testenv.Postgres(t))
}

// mustOpenURL opens the store at url, closed when tb ends.
func mustOpenURL(tb testing.TB, url string) *DB {
	tb.Helper()
	db, err := OpenPostgres(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestPostgres(t *testing.T) { runStoreSuite(t, MustOpenPostgres) }

// TestOpenURL checks which URLs Open accepts, and that a refused
// connection is ErrUnavailable with no password in its message.
func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{
		"sqlite:///var/lib/warder.db", "/var/lib/warder.db", "mysql://u:secret@h/db", "",
		"postgres://u:secret@127.0.0.1:notaport/db", "postgres://u:secret@h/db?connect_timeout=soon",
	} {
		_, err := Open(ctx, url)
		if err == nil || errors.Is(err, warder.ErrUnavailable) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v, want an error that is no outage and shows no password", url, err)
		}
	}
	port := closedPort(t)
	for _, scheme := range []string{"postgres", "postgresql", "POSTGRES"} {
		url := scheme + "://warder:secret@127.0.0.1:" + strconv.Itoa(port) + "/warder?sslmode=disable"
		_, err := Open(ctx, url)
		wantErr(t, err, warder.ErrUnavailable, "")
		if !strings.HasPrefix(err.Error(), "database unavailable: ") || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%s) = %q, want %q and no password", scheme, err, "database unavailable: ...")
		}
	}
}

// closedPort returns a port of 127.0.0.1 that nothing listens on.
func closedPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	wantNoErr(tb, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestPostgresConnectTimeout checks that a server that accepts connections
// but never answers fails OpenPostgres after the default connect timeout,
// rather than hanging until the caller's deadline.
func TestPostgresConnectTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	wantNoErr(t, err)
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = OpenPostgres(ctx, "postgres://warder@"+l.Addr().String()+"/warder?sslmode=disable")
	wantErr(t, err, warder.ErrUnavailable, "")
	if d := time.Since(start); d < pgConnectTimeout || d > pgConnectTimeout+5*time.Second {
		t.Fatalf("OpenPostgres gave up on a silent server after %v, want about %v", d, pgConnectTimeout)
	}
}

// TestPostgresReopen checks that data survives reopening, and that a
// database a newer warder migrated is refused when opened, naming both
// versions.
func TestPostgresReopen(t *testing.T) {
	ctx := context.Background()
	url := testenv.Postgres(t)
	db, err := OpenPostgres(ctx, url)
	wantNoErr(t, err)
	u := MustCreateUser(t, db, "alice")
	latest, err := db.SchemaVersion(ctx)
	wantNoErr(t, err)
	wantNoErr(t, db.Close())

	db = mustOpenURL(t, url)
	if _, err := db.UserByID(ctx, u.ID); err != nil {
		t.Fatalf("user lost on reopen: %v", err)
	}
	_, err = db.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, latest+1, now())
	wantNoErr(t, err)

	_, err = OpenPostgres(ctx, url)
	if err == nil {
		t.Fatal("OpenPostgres accepted a database with a newer schema")
	}
	msg := err.Error()
	if !strings.Contains(msg, "version "+strconv.Itoa(latest+1)) || !strings.Contains(msg, "version "+strconv.Itoa(latest)) {
		t.Fatalf("OpenPostgres error %q does not name versions %d and %d", msg, latest+1, latest)
	}
}

// TestPostgresConcurrentMigrate migrates one fresh database from two
// handles (two warder processes starting at once), several goroutines
// each: every Migrate must succeed and each migration be applied once.
func TestPostgresConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	url := testenv.Postgres(t)
	handles := make([]*DB, 2)
	for i := range handles {
		db, err := connectPostgres(url)
		wantNoErr(t, err)
		t.Cleanup(func() { db.Close() })
		handles[i] = db
	}
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = handles[i%2].Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	migs, err := loadMigrations(postgresDialect.migrations)
	wantNoErr(t, err)
	var rows, latest int
	wantNoErr(t, handles[0].db.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &latest))
	if rows != len(migs) || latest != len(migs) {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d", rows, latest, len(migs))
	}
	MustCreateUser(t, handles[1], "alice") // the schema is usable
}
