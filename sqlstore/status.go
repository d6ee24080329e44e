package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/warder/warder"
)

// RecordStatus writes a, as UpdateAgent does, and appends ev to the agent's
// history in the same transaction, so the history never disagrees with the
// status. ev.ID is set.
func (db *DB) RecordStatus(ctx context.Context, a *warder.Agent, ev *warder.AgentEvent) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(a.ID)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: record status: %w", err)
	}
	defer tx.Rollback()
	if err := db.updateAgent(ctx, tx, a); err != nil {
		return err
	}
	if ev != nil {
		ev.At = dbTime(ev.At)
		err = tx.QueryRowContext(ctx, `
			INSERT INTO agent_events (agent_id, at, from_status, to_status, reason, actor)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			a.ID, ev.At, string(ev.From), string(ev.To), ev.Reason, ev.Actor).Scan(&ev.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: record status: %w", err)
		}
		if db.dialect.shared {
			if err := appendFeed(ctx, tx, a, ev); err != nil {
				return fmt.Errorf("sqlstore: record status: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: record status: %w", err)
	}
	return nil
}

// AgentEvents returns the agent's latest limit status changes, oldest first.
func (db *DB) AgentEvents(ctx context.Context, agentID string, limit int) (_ []*warder.AgentEvent, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `
		SELECT id, agent_id, at, from_status, to_status, reason, actor FROM (
			SELECT * FROM agent_events WHERE agent_id = $1 ORDER BY id DESC LIMIT $2
		) latest ORDER BY id`, agentID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: agent events: %w", err)
	}
	defer rows.Close()
	events := []*warder.AgentEvent{}
	for rows.Next() {
		var ev warder.AgentEvent
		if err := rows.Scan(&ev.ID, &ev.AgentID, utcTime{&ev.At}, &ev.From, &ev.To, &ev.Reason, &ev.Actor); err != nil {
			return nil, fmt.Errorf("sqlstore: agent events: %w", err)
		}
		events = append(events, &ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: agent events: %w", err)
	}
	return events, nil
}

// TouchAgent sets the agent's last_used_at. A missing agent is not an
// error: use of an agent being deleted needs no record.
func (db *DB) TouchAgent(ctx context.Context, agentID string, at time.Time) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(agentID)
	if _, err := db.db.ExecContext(ctx, `UPDATE agents SET last_used_at = $1 WHERE id = $2`, dbTime(at), agentID); err != nil {
		return fmt.Errorf("sqlstore: touch agent: %w", err)
	}
	return nil
}

// nullTime is a time column's value: NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(t)
}

// nullUTCTime scans a nullable time column into *t, leaving it zero for NULL.
type nullUTCTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (u nullUTCTime) Scan(src any) error {
	if src == nil {
		*u.t = time.Time{}
		return nil
	}
	return utcTime(u).Scan(src)
}

// ResealSecrets swaps the agent's sealed secrets from old to sealed, or
// returns ErrConflict when they are no longer old.
func (db *DB) ResealSecrets(ctx context.Context, agentID, old, sealed string) (err error) {
	defer db.classify(&err)
	defer db.rows.forget(agentID)
	res, err := db.db.ExecContext(ctx, `UPDATE agents SET secret_env = $1 WHERE id = $2 AND secret_env = $3`, sealed, agentID, old)
	if err != nil {
		return fmt.Errorf("sqlstore: reseal secrets: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: reseal secrets: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrConflict, "the agent's secrets changed or the agent is gone")
	}
	db.scrubSecrets(ctx)
	return nil
}
