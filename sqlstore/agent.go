package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/warder/warder"
)

// agentColumns are read by scanAgents, in its order.
const agentColumns = `id, user_id, name, description, type, config, container_config,
	status, container_id, container_name, container_status, host_port, created_at, updated_at,
	exit_code, restart_count, status_reason, status_changed_at, last_used_at, secret_env, health, knowledge_base`

// CreateAgent inserts a, filling an empty ID with a new UUID, an empty
// Status with StatusCreated, and CreatedAt and UpdatedAt with the current
// time. A name the user already uses, or a HostPort another agent holds, is
// ErrConflict; an unknown UserID is ErrNotFound.
func (db *DB) CreateAgent(ctx context.Context, a *warder.Agent) (err error) {
	defer db.classify(&err)
	defer func() { db.rows.forget(a.ID) }() // the ID may be made below
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create agent: %w", err)
	}
	defer tx.Rollback()
	if err := checkAgentName(ctx, tx, a); err != nil {
		return err
	}
	if a.HostPort != 0 {
		if held, err := exists(ctx, tx, `SELECT 1 FROM agents WHERE host_port = $1`, a.HostPort); err != nil {
			return fmt.Errorf("sqlstore: create agent: %w", err)
		} else if held {
			return warder.Errorf(warder.ErrConflict, "port %d is already held", a.HostPort)
		}
	}
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	if a.Status == "" {
		a.Status = warder.StatusCreated
	}
	a.CreatedAt = now()
	a.UpdatedAt = a.CreatedAt
	config, containerConfig, err := encodeConfigs(a)
	if err != nil {
		return err
	}
	kb, err := encodeKnowledgeBase(a)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO agents (id, user_id, name, description, type, config, container_config,
			status, container_id, container_name, container_status, host_port, created_at, updated_at,
			secret_env, knowledge_base)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		a.ID, a.UserID, a.Name, a.Description, a.Type, config, containerConfig,
		string(a.Status), a.ContainerID, a.ContainerName, a.ContainerStatus, nullPort(a.HostPort),
		a.CreatedAt, a.UpdatedAt, a.SealedSecrets, kb)
	// The pre-checks above see only committed rows: under PostgreSQL's READ
	// COMMITTED a racing transaction can pass them too, and then the index
	// says which value clashed.
	switch v := db.violation(err); {
	case v.kind == foreignKeyViolation:
		return warder.Errorf(warder.ErrNotFound, "user not found")
	case v.name == uniqueAgentName:
		return warder.Errorf(warder.ErrConflict, "an agent named %q already exists", a.Name)
	case v.name == uniqueHostPort:
		return warder.Errorf(warder.ErrConflict, "port %d is already held", a.HostPort)
	case v.kind == uniqueViolation:
		return warder.Errorf(warder.ErrConflict, "an agent with this id, name or port already exists")
	case err != nil:
		return fmt.Errorf("sqlstore: create agent: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create agent: %w", err)
	}
	return nil
}

// Agent returns the agent with the given id, or ErrNotFound.
func (db *DB) Agent(ctx context.Context, id string) (_ *warder.Agent, err error) {
	defer db.classify(&err)
	rows, err := db.query(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read agent: %w", err)
	}
	agents, err := scanAgents(rows, &db.decoded)
	if err != nil {
		return nil, err
	}
	if len(agents) == 0 {
		return nil, warder.Errorf(warder.ErrNotFound, "agent not found")
	}
	return agents[0], nil
}

// CachedAgent is Agent, answered from memory when the row was read less
// than a second ago and not written since (see rowCache): for showing an
// agent and checking who may see it. A read-modify-write uses Agent.
func (db *DB) CachedAgent(ctx context.Context, id string) (*warder.Agent, error) {
	a, token := db.rows.get(id, time.Now(), db.dialect.shared)
	if a != nil {
		return a, nil
	}
	a, err := db.Agent(ctx, id)
	if err == nil && token != 0 {
		db.rows.put(token, a)
	}
	return a, err
}

// ListAgents returns the agents f selects, oldest first: by created_at,
// then id, the order keyset pages (f.After) continue in. The result is
// never nil, so it encodes as [].
func (db *DB) ListAgents(ctx context.Context, f warder.AgentFilter) (_ []*warder.Agent, err error) {
	defer db.classify(&err)
	where, args := agentWhere(f)
	if f.After != nil {
		// A row value, so both databases walk the (…, created_at, id)
		// index from the key rather than filter every row before it.
		where = append(where, fmt.Sprintf(`(created_at, id) > ($%d, $%d)`, len(args)+1, len(args)+2))
		args = append(args, dbTime(f.After.CreatedAt), f.After.ID)
	}
	query := `SELECT ` + agentColumns + ` FROM agents` + whereClause(where) + ` ORDER BY created_at, id`
	if f.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list agents: %w", err)
	}
	return scanAgents(rows, &db.decoded)
}

// CountAgents counts the agents f selects; f.After and f.Limit do not
// apply. With a user and statuses it is answered from the
// agents_user_status index alone.
func (db *DB) CountAgents(ctx context.Context, f warder.AgentFilter) (n int, err error) {
	defer db.classify(&err)
	where, args := agentWhere(f)
	err = db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents`+whereClause(where), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: count agents: %w", err)
	}
	return n, nil
}

// AgentsByStatus counts every agent by status, in the database: nothing
// of the agents themselves is read (the metrics scrape asks it each time).
func (db *DB) AgentsByStatus(ctx context.Context) (_ map[warder.Status]int, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM agents GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count agents by status: %w", err)
	}
	defer rows.Close()
	counts := map[warder.Status]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("sqlstore: count agents by status: %w", err)
		}
		counts[warder.Status(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: count agents by status: %w", err)
	}
	return counts, nil
}

// agentWhere is the conditions of f but for its page (After, Limit), with
// their arguments numbered from $1.
func agentWhere(f warder.AgentFilter) (where []string, args []any) {
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.UserID != "" {
		where = append(where, `user_id = `+arg(f.UserID))
	}
	if len(f.Statuses) > 0 {
		in := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			in[i] = arg(string(st))
		}
		where = append(where, `status IN (`+strings.Join(in, ", ")+`)`)
	}
	if f.Name != "" {
		where = append(where, `name = `+arg(f.Name))
	}
	if f.NamePrefix != "" {
		// substr and length count characters in both databases, and unlike
		// LIKE compare case-sensitively in both, with nothing to escape.
		p := arg(f.NamePrefix)
		where = append(where, `substr(name, 1, length(`+p+`)) = `+p)
	}
	return where, args
}

// whereClause joins conditions into a WHERE clause; "" for none.
func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(where, ` AND `)
}

// UpdateAgent writes every field of a that may change and sets a.UpdatedAt.
// ID, UserID and CreatedAt never change, and HostPort changes only through
// ClaimPort and ReleasePort, so that writing back a stale copy cannot undo a
// claim or a release; those four fields of a are refreshed from the row.
// LastUsedAt changes only through TouchAgent, for the same reason.
func (db *DB) UpdateAgent(ctx context.Context, a *warder.Agent) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(a.ID)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: update agent: %w", err)
	}
	defer tx.Rollback()
	var oldSecrets string
	if db.dialect.scrub != nil {
		err := tx.QueryRowContext(ctx, `SELECT secret_env FROM agents WHERE id = $1`, a.ID).Scan(&oldSecrets)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: update agent: %w", err)
		}
	}
	if err := db.updateAgent(ctx, tx, a); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: update agent: %w", err)
	}
	if oldSecrets != "" && oldSecrets != a.SealedSecrets {
		db.scrubSecrets(ctx)
	}
	return nil
}

// scrubSecrets runs the dialect's scrub after sealed secrets were replaced
// or deleted. The write has landed either way, so a scrub that fails (the
// log held by readers past the busy timeout) does not fail it: the next
// scrub, or SQLite's own checkpoint when Warder closes the database,
// finishes the job.
func (db *DB) scrubSecrets(ctx context.Context) {
	if db.dialect.scrub != nil {
		db.dialect.scrub(context.WithoutCancel(ctx), db.db)
	}
}

// updateAgent is UpdateAgent inside tx.
func (db *DB) updateAgent(ctx context.Context, tx *sql.Tx, a *warder.Agent) error {
	if err := checkAgentName(ctx, tx, a); err != nil {
		return err
	}
	config, containerConfig, err := encodeConfigs(a)
	if err != nil {
		return err
	}
	kb, err := encodeKnowledgeBase(a)
	if err != nil {
		return err
	}
	updatedAt := now()
	var port sql.NullInt64
	var createdAt time.Time
	err = tx.QueryRowContext(ctx, `
		UPDATE agents SET name = $1, description = $2, type = $3, config = $4,
			container_config = $5, status = $6, container_id = $7, container_name = $8,
			container_status = $9, updated_at = $10, exit_code = $11, restart_count = $12,
			status_reason = $13, status_changed_at = $14, secret_env = $15, health = $16,
			knowledge_base = $18
		WHERE id = $17
		RETURNING user_id, host_port, created_at`,
		a.Name, a.Description, a.Type, config, containerConfig, string(a.Status),
		a.ContainerID, a.ContainerName, a.ContainerStatus, updatedAt,
		a.ExitCode, a.RestartCount, a.StatusReason, nullTime(a.StatusChangedAt), a.SealedSecrets, a.Health, a.ID, kb,
	).Scan(&a.UserID, &port, utcTime{&createdAt})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return warder.Errorf(warder.ErrNotFound, "agent not found")
	case db.isUnique(err):
		return warder.Errorf(warder.ErrConflict, "an agent named %q already exists", a.Name)
	case err != nil:
		return fmt.Errorf("sqlstore: update agent: %w", err)
	}
	a.HostPort, a.CreatedAt, a.UpdatedAt = int(port.Int64), createdAt, updatedAt
	return nil
}

// DeleteAgent removes the agent with the given id, or returns ErrNotFound.
func (db *DB) DeleteAgent(ctx context.Context, id string) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(id)
	res, err := db.db.ExecContext(ctx, `DELETE FROM agents WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete agent: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: delete agent: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "agent not found")
	}
	db.scrubSecrets(ctx)
	return nil
}

// RecordDeletion implements warder.AgentStore: on PostgreSQL the agent's
// last change reaches every replica's followers through the feed.
func (db *DB) RecordDeletion(ctx context.Context, a *warder.Agent, ev *warder.AgentEvent) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(a.ID)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: delete agent: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM agents WHERE id = $1`, a.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete agent: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: delete agent: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "agent not found")
	}
	if db.dialect.shared {
		ev.At = dbTime(ev.At)
		if err := appendFeed(ctx, tx, a, ev); err != nil {
			return fmt.Errorf("sqlstore: delete agent: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: delete agent: %w", err)
	}
	db.scrubSecrets(ctx)
	return nil
}

// checkAgentName returns ErrConflict if another agent of the same user is
// named a.Name. It runs inside the writing transaction so the message can
// name the clash; the unique index stays the guard. The owner is read from
// the row when it exists, since an update may not move an agent.
func checkAgentName(ctx context.Context, tx *sql.Tx, a *warder.Agent) error {
	taken, err := exists(ctx, tx, `
		SELECT 1 FROM agents
		WHERE name = $1 AND id <> $2
		AND user_id = COALESCE((SELECT user_id FROM agents WHERE id = $2), $3)`,
		a.Name, a.ID, a.UserID)
	if err != nil {
		return fmt.Errorf("sqlstore: check agent name: %w", err)
	}
	if taken {
		return warder.Errorf(warder.ErrConflict, "an agent named %q already exists", a.Name)
	}
	return nil
}
