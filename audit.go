package warder

import (
	"context"
	"time"
)

// AuditEntry is one API call by a signed-in user that changed something,
// or tried to: who, what, which agent, the result and when.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	UserID   string    `json:"user_id"`
	Username string    `json:"username"`
	// Action is the call as the API routes it: "POST /api/agents/{id}/start".
	Action string `json:"action"`
	// AgentID is the agent the call named or created; "" for none.
	AgentID string `json:"agent_id"`
	// Status is the HTTP status of the answer; Result is "ok" for a
	// success, else the error as the caller was told it.
	Status    int    `json:"status"`
	Result    string `json:"result"`
	RequestID string `json:"request_id"`
}

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
