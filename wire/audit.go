package wire

import "time"

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
	// Err is, on an entry the server makes for an action outside an API
	// answer of its own (an exec's end, a start on demand), the error the
	// action ended with: whoever records the entry sets Status from it
	// (package api knows the statuses). It is the server's, never sent.
	Err error `json:"-"`
}
