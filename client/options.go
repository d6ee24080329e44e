package client

import (
	"time"

	"github.com/warder/warder/wire"
)

// The options of calls that take query parameters rather than a JSON
// body: the client's own types, for the server's (in Warder's root
// package) carry its checks and its store's filters.

// AgentQuery is what ListAgents asks: filters, and a page.
type AgentQuery struct {
	// UserID narrows an admin's listing to one user's agents; others may
	// only name themselves.
	UserID string
	// Statuses keeps agents in any of them.
	Statuses []wire.Status
	// Name keeps the agent of exactly this name; NamePrefix those whose
	// name starts with it. Both are case-sensitive.
	Name, NamePrefix string
	// Limit, between 1 and 1000, asks for a page of at most that many; 0
	// asks for every agent at once.
	Limit int
	// Cursor continues after the page that answered it (AgentPage.Next).
	Cursor string
}

// AgentPage is one answer of ListAgents: the agents, and the cursor of
// the next page ("" when this one is the last).
type AgentPage struct {
	Agents []*wire.Agent
	Next   string
}

// AuditQuery is what an admin asks of the audit log: User is a user id
// or a username; a zero field selects everything; Limit 0 is 100.
type AuditQuery struct {
	User    string
	AgentID string
	Since   time.Time
	Until   time.Time
	Limit   int
}

// DeleteOptions are the choices of DeleteAgentWith.
type DeleteOptions struct {
	// KeepWorkspace keeps the agent's workspace after the agent is gone:
	// its owner lists it with Workspaces and deletes it with
	// DeleteWorkspace.
	KeepWorkspace bool
}

// AllLines is LogOptions.Lines for every line.
const AllLines = -1

// LogOptions selects an agent's log lines.
type LogOptions struct {
	Lines      int // from the end; AllLines for every line
	Timestamps bool
	// Since keeps only lines written at or after it; zero keeps all.
	Since time.Time
	// Follow keeps StreamLogs going with new lines as they are written,
	// until the agent stops.
	Follow bool
}

// TerminalRequest is what Terminal opens: the command, and the
// terminal's size.
type TerminalRequest struct {
	// Cmd is the program and its arguments; none is the agent's shell.
	Cmd []string
	// Size is the terminal's size; zero is 80x24.
	Size wire.TermSize
}
