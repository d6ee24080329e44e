package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the store acts on (PostgreSQL manual, appendix A).
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgConnectionClass     = "08" // connection_exception and its subclasses
	pgAdminShutdown       = "57P01"
	pgCrashShutdown       = "57P02"
	pgCannotConnectNow    = "57P03" // starting up or shutting down
	pgTooManyConnections  = "53300"
	// A value PostgreSQL cannot keep: a NUL or bytes not valid in the
	// database's encoding (UTF-8), or a row too big for an index.
	pgCharacterNotInRepertoire = "22021"
	pgUntranslatableCharacter  = "22P05"
	pgProgramLimitExceeded     = "54000"
)

// pgViolation tells a unique from a foreign-key violation by SQLSTATE, and
// names the constraint so the store can say which value clashed.
func pgViolation(err error) violation {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return violation{}
	}
	switch e.Code {
	case pgUniqueViolation:
		return violation{kind: uniqueViolation, name: e.ConstraintName}
	case pgForeignKeyViolation:
		return violation{kind: foreignKeyViolation, name: e.ConstraintName}
	}
	return violation{}
}

// pgDown reports whether err means the server could not be reached or
// went away: refused or timed-out connections, the server shutting down
// or restarting, a connection cut mid-query. An error the server sent for
// the statement itself, or one it answered a login with (a wrong password,
// a missing database), is not an outage: retrying would not help.
func pgDown(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; the database may be fine
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow, pgTooManyConnections:
			return true
		}
		return strings.HasPrefix(pgErr.Code, pgConnectionClass)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		// No answer in time: a server that hangs is as good as down.
		errors.Is(err, context.DeadlineExceeded)
}

// pgBadValue reports whether err is PostgreSQL refusing a value it cannot
// store (see the codes above): the caller's input, not an outage or a bug.
func pgBadValue(err error) bool {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case pgCharacterNotInRepertoire, pgUntranslatableCharacter, pgProgramLimitExceeded:
		return true
	}
	return false
}
