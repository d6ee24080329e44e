package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/warder/warder"
)

// RecordAudit appends e to the audit log, setting e.ID (and e.At, when
// zero, to now).
func (db *DB) RecordAudit(ctx context.Context, e *warder.AuditEntry) (err error) {
	defer db.classify(&err)
	if e.At.IsZero() {
		e.At = now()
	}
	e.At = dbTime(e.At)
	// What a caller sent (a request id, a command line) is text both
	// dialects keep: an entry is never lost to a stray byte.
	for _, f := range []*string{&e.Username, &e.Action, &e.AgentID, &e.Result, &e.RequestID} {
		*f = warder.StorableText(*f)
	}
	err = db.db.QueryRowContext(ctx, `
		INSERT INTO audit_log (at, user_id, username, action, agent_id, status, result, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.At, e.UserID, e.Username, e.Action, e.AgentID, e.Status, e.Result, e.RequestID).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: record audit entry: %w", err)
	}
	return nil
}

// AuditEntries lists the entries f selects, newest first. A Limit below 1
// means 100.
func (db *DB) AuditEntries(ctx context.Context, f warder.AuditFilter) (_ []*warder.AuditEntry, err error) {
	defer db.classify(&err)
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	if f.AgentID != "" {
		add("agent_id = $%d", f.AgentID)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < $%d", dbTime(f.Until))
	}
	if f.Limit < 1 {
		f.Limit = 100
	}
	q := `SELECT id, at, user_id, username, action, agent_id, status, result, request_id FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY at DESC, id DESC LIMIT $%d", len(args))
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: audit entries: %w", err)
	}
	defer rows.Close()
	out := []*warder.AuditEntry{}
	for rows.Next() {
		var e warder.AuditEntry
		if err := rows.Scan(&e.ID, utcTime{&e.At}, &e.UserID, &e.Username, &e.Action, &e.AgentID, &e.Status, &e.Result, &e.RequestID); err != nil {
			return nil, fmt.Errorf("sqlstore: audit entries: %w", err)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: audit entries: %w", err)
	}
	return out, nil
}
