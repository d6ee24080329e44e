package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/warder/warder"
)

// ClaimPort gives port to the agent. The unique index on host_port makes
// the claim atomic across processes: of two agents claiming one port, the
// second gets ErrConflict and should try another. An agent that already
// holds a port gets ErrConflict too; an unknown agent ErrNotFound.
func (db *DB) ClaimPort(ctx context.Context, agentID string, port int) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(agentID)
	if port < 1 || port > 65535 {
		return warder.Errorf(warder.ErrInvalid, "port %d is not between 1 and 65535", port)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: claim port: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE agents SET host_port = $1 WHERE id = $2 AND host_port IS NULL`, port, agentID)
	if db.isUnique(err) {
		return warder.Errorf(warder.ErrConflict, "port %d is already held", port)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: claim port: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: claim port: %w", err)
	}
	if n == 0 {
		// Nothing changed: tell a missing agent from one that holds a port.
		// Reading in the same transaction keeps the answer consistent.
		var held sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT host_port FROM agents WHERE id = $1`, agentID).Scan(&held)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return warder.Errorf(warder.ErrNotFound, "agent not found")
		case err != nil:
			return fmt.Errorf("sqlstore: claim port: %w", err)
		case held.Valid:
			return warder.Errorf(warder.ErrConflict, "agent already holds port %d", held.Int64)
		default:
			// Only possible where reads see commits made after the update
			// (PostgreSQL's READ COMMITTED): the port was released meanwhile.
			return warder.Errorf(warder.ErrConflict, "agent's port changed concurrently; try again")
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: claim port: %w", err)
	}
	return nil
}

// ReleasePort frees the agent's port. An agent that holds none, or no
// longer exists, is not an error, so cleanup may call it twice.
func (db *DB) ReleasePort(ctx context.Context, agentID string) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(agentID)
	if _, err := db.db.ExecContext(ctx, `UPDATE agents SET host_port = NULL WHERE id = $1`, agentID); err != nil {
		return fmt.Errorf("sqlstore: release port: %w", err)
	}
	return nil
}

// UsedPorts lists, in ascending order, every port held by any agent.
func (db *DB) UsedPorts(ctx context.Context) (_ []int, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT host_port FROM agents WHERE host_port IS NOT NULL ORDER BY host_port`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: used ports: %w", err)
	}
	defer rows.Close()
	ports := []int{}
	for rows.Next() {
		var p int
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("sqlstore: used ports: %w", err)
		}
		ports = append(ports, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: used ports: %w", err)
	}
	return ports, nil
}

// PortOf is the host port the agent holds, 0 for none; an agent that does
// not exist holds none.
func (db *DB) PortOf(ctx context.Context, agentID string) (_ int, err error) {
	defer db.classify(&err)
	var port sql.NullInt64
	err = db.db.QueryRowContext(ctx, `SELECT host_port FROM agents WHERE id = $1`, agentID).Scan(&port)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: port of agent: %w", err)
	}
	return int(port.Int64), nil
}
