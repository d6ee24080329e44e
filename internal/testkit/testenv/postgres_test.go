package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopPostgres()
	os.Exit(code)
}

// pgConnect opens a connection to url, closed when tb ends.
func pgConnect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestPostgres checks that each call gives a database of its own, empty,
// and that it is dropped when its test ends.
func TestPostgres(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("Fresh", func(t *testing.T) {
		first = Postgres(t)
		conn := pgConnect(t, first)
		var tables int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("new database has %d tables", tables)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Fatal(err)
		}
		if second := Postgres(t); second == first {
			t.Fatalf("two calls returned the same database %s", first)
		}
	})
	srv, err := sharedPostgres()
	if err != nil {
		missingPostgres(t, err)
	}
	conn := pgConnect(t, srv.admin.String())
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'warder_test_%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d test databases left after their tests ended", n)
	}
}

// TestPostgresServerStopStart checks that a private server refuses
// connections while stopped, and that its databases and port survive a
// restart.
func TestPostgresServerStopStart(t *testing.T) {
	srv := NewPostgresServer(t)
	url := srv.NewDatabase(t)
	ctx := context.Background()
	if _, err := pgConnect(t, url).Exec(ctx, `CREATE TABLE kept (x int)`); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(short, url); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped server")
	}
	srv.Start(t)
	if _, err := pgConnect(t, url).Exec(ctx, `SELECT x FROM kept`); err != nil {
		t.Fatalf("table lost across a restart: %v", err)
	}
}
