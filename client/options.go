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
	// KeepSnapshots keeps the agent's snapshots (AllSnapshots lists
	// them); by default they are deleted with it.
	KeepSnapshots bool
}

// LogOptions selects an agent's log lines. Each field means one thing,
// in Logs and StreamLogs alike; the zero value is the whole log.
type LogOptions struct {
	// Tail, when above 0, keeps only the latest Tail lines (at most
	// 10,000); 0 keeps every line.
	Tail int
	// Since keeps only lines written at or after it; zero keeps all.
	Since time.Time
	// Timestamps gives each line the time it was written (LogLine.Time).
	Timestamps bool
	// Follow keeps StreamLogs going with new lines as they are written,
	// until the agent stops or the caller's context ends. Logs ignores it.
	Follow bool
	// OnlyNew, with Follow, sends no earlier line: only those written
	// from now on (Tail is then ignored). Logs ignores it.
	OnlyNew bool
}

// TerminalRequest is what Terminal opens: the command, and the
// terminal's size.
type TerminalRequest struct {
	// Cmd is the program and its arguments; none is the agent's shell.
	Cmd []string
	// Size is the terminal's size; zero is 80x24.
	Size wire.TermSize
}
