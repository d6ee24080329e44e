package warder

import (
	"context"
	"time"

	"github.com/warder/warder/wire"
)

// The LLM gateway's usage as the API shows it, defined in package wire.
type (
	LLMTokens      = wire.LLMTokens
	LLMBudget      = wire.LLMBudget
	LLMModelUsage  = wire.LLMModelUsage
	AgentLLMUsage  = wire.AgentLLMUsage
	UserLLMUsage   = wire.UserLLMUsage
	LLMUsageReport = wire.LLMUsageReport
)

// LLMCall is what one request through the LLM gateway cost, as its model
// provider reported it.
type LLMCall struct {
	AgentID, UserID  string
	Model            string
	PromptTokens     int64
	CompletionTokens int64
	At               time.Time
}

// LLMTotals are the tokens (prompt and completion together) an agent and
// its user spent through the gateway in the UTC day and month of a
// moment: what budgets are checked against.
type LLMTotals struct {
	AgentDay, AgentMonth, UserDay, UserMonth int64
}

// LLMUsageRow is the usage of one agent with one model, this month and
// today (UTC).
type LLMUsageRow struct {
	UserID, AgentID, Model string
	Today, ThisMonth       LLMTokens
}

// LLMUsageFilter selects usage rows; empty fields select all.
type LLMUsageFilter struct {
	UserID, AgentID string
	// At names the day and month the rows cover; zero is now.
	At time.Time
}

// LLMUsageStore keeps the gateway's usage per agent, user, model and UTC
// day, where every replica sharing the store sees the same counts.
type LLMUsageStore interface {
	// RecordLLMCall adds c to its agent's row of the day of c.At and the
	// model, atomically (concurrent calls, from any process, all count).
	RecordLLMCall(ctx context.Context, c LLMCall) error
	// LLMTotals sums what agentID and userID spent in the day and month
	// of now, as committed.
	LLMTotals(ctx context.Context, agentID, userID string, now time.Time) (LLMTotals, error)
	// LLMUsage lists the usage f selects, by user, agent and model, of
	// the month of f.At (its day's as Today).
	LLMUsage(ctx context.Context, f LLMUsageFilter) ([]LLMUsageRow, error)
}

// LLMDay names the UTC day of t ("2026-12-07"), as usage is kept and
// shown.
func LLMDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// LLMMonth names the UTC month of t ("2026-12").
func LLMMonth(t time.Time) string { return t.UTC().Format("2006-01") }
