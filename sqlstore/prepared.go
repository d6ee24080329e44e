package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// statements caches the prepared statements of the hottest reads (the
// credential lookups and the agent read), by query text. On SQLite,
// preparing is parsing the SQL and planning it in this process, which
// was the largest store cost of a GET /api/agents/{id} once the pool
// kept its connections (docs/benchmarks.md); a *sql.Stmt is prepared
// once per pooled connection and reused. PostgreSQL needs none of it:
// pgx already keeps a prepared statement cache on every connection.
type statements struct {
	m sync.Map // query -> *sql.Stmt
}

// queryRow is db.db.QueryRowContext through a statement prepared once,
// on SQLite; on PostgreSQL it is db.db.QueryRowContext.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.prepared(ctx, query)
	if err != nil || st == nil {
		return db.db.QueryRowContext(ctx, query, args...) // reports the error, if any
	}
	return st.QueryRowContext(ctx, args...)
}

// query is db.db.QueryContext through a statement prepared once, on
// SQLite; on PostgreSQL it is db.db.QueryContext.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.prepared(ctx, query)
	if err != nil || st == nil {
		return db.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// prepared returns query's cached statement, preparing it on first use;
// nil on PostgreSQL.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if db.dialect.name != sqliteDialect.name {
		return nil, nil
	}
	if st, ok := db.stmts.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.m.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// close closes every cached statement.
func (s *statements) close() {
	s.m.Range(func(q, st any) bool {
		st.(*sql.Stmt).Close()
		s.m.Delete(q)
		return true
	})
}
