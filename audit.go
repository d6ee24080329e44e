package warder

import (
	"context"
	"time"

	"github.com/warder/warder/wire"
)

// AuditEntry is one entry of the audit log as the API shows it, defined
// in package wire (docs/architecture.md, "Wire types").
type AuditEntry = wire.AuditEntry

// AuditFilter selects audit entries. Empty fields select everything;
// Since is inclusive, Until exclusive.
type AuditFilter struct {
	UserID  string
	AgentID string
	Since   time.Time
	Until   time.Time
	Limit   int
}

// AuditStore persists the audit log. Entries are only ever appended.
type AuditStore interface {
	// RecordAudit appends e, setting e.ID.
	RecordAudit(ctx context.Context, e *AuditEntry) error
	// AuditEntries lists the entries f selects, newest first, at most f.Limit.
	AuditEntries(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// AuditQuery is what an admin asks of the audit log: User is a user id or
// a username.
type AuditQuery struct {
	User    string
	AgentID string
	Since   time.Time
	Until   time.Time
	Limit   int
}
