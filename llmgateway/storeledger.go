package llmgateway

import (
	"context"
	"time"

	"github.com/warder/warder"
)

// UsageStore is where a StoreLedger keeps usage (warder.LLMUsageStore's
// part it needs; sqlstore.DB is one).
type UsageStore interface {
	RecordLLMCall(ctx context.Context, c warder.LLMCall) error
	LLMTotals(ctx context.Context, agentID, userID string, now time.Time) (warder.LLMTotals, error)
}

// StoreLedger is the Ledger of a Warder: usage in the store, per agent,
// user, model and UTC day, so every replica sharing the store counts the
// same tokens; budgets from Budgets, read at each request so an admin's
// change holds at once. Its answers are MemLedger's: requests are not
// reserved, so the one that crosses a budget finishes and is recorded
// whole, and every later one, on any replica, is refused.
type StoreLedger struct {
	Store UsageStore
	// Budgets returns the caller's agent's and user's budgets; an error
	// refuses the request (503: budgets fail closed).
	Budgets func(ctx context.Context, c Caller) (agent, user Budget, err error)
	// Now is time.Now unless a test says otherwise.
	Now func() time.Time
}

var _ Ledger = (*StoreLedger)(nil)

// Allow checks c's budgets against the store's committed totals; with
// no budget at all it reads no totals.
func (l *StoreLedger) Allow(ctx context.Context, c Caller) error {
	agent, user, err := l.Budgets(ctx, c)
	if err != nil {
		return err
	}
	if agent == (Budget{}) && user == (Budget{}) {
		return nil
	}
	now := l.now()
	used, err := l.Store.LLMTotals(ctx, c.Agent, c.User, now)
	if err != nil {
		return err
	}
	return Check(now, used, agent, user)
}

// Record adds u to the store.
func (l *StoreLedger) Record(ctx context.Context, u Usage) error {
	at := u.At
	if at.IsZero() {
		at = l.now()
	}
	return l.Store.RecordLLMCall(ctx, warder.LLMCall{AgentID: u.Agent, UserID: u.User, Model: u.Model,
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, At: at})
}

func (l *StoreLedger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}
