package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresFiles embed.FS

// migrationLockKey names Warder's schema migrations among the advisory
// locks of a database: "warder" in ASCII, so it is recognisable in
// pg_locks and unlikely to collide with another application's key.
const migrationLockKey = 0x776172646572

// postgresDialect is PostgreSQL through pgx's database/sql adapter.
// Transactions run at the default READ COMMITTED level, where a
// transaction's reads do not block others' writes; what SQLite gets from
// taking the write lock at BEGIN is made explicit here with locks where
// it matters (migrations, the first user) and with named unique
// constraints elsewhere.
var postgresDialect = dialect{
	name:       "postgres",
	migrations: mustSub(postgresFiles, "migrations/postgres"),
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`,
	migrationLock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLockKey),
	// SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE
	// lock every INSERT takes, but not with reads.
	firstUserLock: `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`,
	violation:     pgViolation,
	down:          pgDown,
	badValue:      pgBadValue,
	shared:        true,
	forUpdate:     " FOR UPDATE",
}

// Pool settings. PostgreSQL allots memory per connection and refuses
// connections beyond max_connections (100 by default), so one Warder
// process keeps well below it; idle connections are closed after a while,
// and every connection is replaced now and then, so that a failover or a
// changed DNS name is picked up without a restart.
const (
	pgConnectTimeout  = 5 * time.Second
	pgMaxOpenConns    = 20
	pgMaxIdleConns    = 10
	pgConnMaxIdleTime = 5 * time.Minute
	pgConnMaxLifetime = time.Hour
)

// Open opens the store named by a database URL: PostgreSQL for
// postgres:// and postgresql:// URLs. Any other URL is an error; the
// embedded SQLite store is opened by path with OpenSQLite instead.
func Open(ctx context.Context, url string) (*DB, error) {
	scheme, _, ok := strings.Cut(url, "://")
	if ok {
		switch strings.ToLower(scheme) {
		case "postgres", "postgresql":
			return OpenPostgres(ctx, url)
		}
		// Only the scheme is quoted: the rest may hold a password.
		return nil, fmt.Errorf("sqlstore: database URL scheme %q is not supported; want postgres:// or postgresql://", scheme)
	}
	return nil, fmt.Errorf("sqlstore: the database URL must start with postgres:// or postgresql://")
}

// OpenPostgres connects to the PostgreSQL database at url (such as
// postgres://user:pass@host:5432/warder?sslmode=disable; anything pgx
// accepts) and brings its schema up to date. A server that cannot be
// reached is an error wrapping warder.ErrUnavailable.
//
// Connecting gives up after connect_timeout seconds, 5 when the URL (or
// PGCONNECT_TIMEOUT) sets none or 0: waiting forever for a dead server
// would hang every request instead of answering 503.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := connectPostgres(url)
	if err != nil {
		return nil, err
	}
	return open(ctx, db)
}

// connectPostgres sets up the connection pool for url without connecting
// yet, so tests can migrate a fresh database by hand.
func connectPostgres(url string) (*DB, error) {
	cfg, err := pgx.ParseConfig(url) // its errors leave the password out
	if err != nil {
		return nil, fmt.Errorf("sqlstore: PostgreSQL URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	// No reconnect logic of our own: database/sql drops a connection the
	// driver reports bad and takes another, and pgx reports a connection
	// the server has closed as bad before sending on it (it pings those idle
	// over a second first), so once the server is back the next calls just
	// work; TestPostgresOutage and TestPostgresDeadPooledConnections hold
	// pgx to that.
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(pgMaxOpenConns)
	sqldb.SetMaxIdleConns(pgMaxIdleConns)
	sqldb.SetConnMaxIdleTime(pgConnMaxIdleTime)
	sqldb.SetConnMaxLifetime(pgConnMaxLifetime)
	return &DB{db: sqldb, dialect: postgresDialect, pg: cfg}, nil
}
