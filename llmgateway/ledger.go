package llmgateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/warder/warder"
)

// Budget is a token allowance (prompt and completion tokens together)
// per day and per month, UTC; 0 is unlimited.
type Budget struct {
	PerDay, PerMonth int64
}

// MemLedger is a Ledger in memory, for one process and for tests: the
// store's ledger must give the same answers (and hold across replicas).
type MemLedger struct {
	Agent, User Budget // the same budget for every agent, every user
	Now         func() time.Time

	mu   sync.Mutex
	used map[string]int64 // by "agent:<id>:<period>" and "user:<id>:<period>"
	log  []Usage
}

// NewMemLedger returns an empty MemLedger with those budgets.
func NewMemLedger(agent, user Budget) *MemLedger {
	return &MemLedger{Agent: agent, User: user, Now: time.Now, used: map[string]int64{}}
}

// periods are the day's and the month's keys and their ends.
func periods(now time.Time) (day, month string, dayEnd, monthEnd time.Time) {
	now = now.UTC()
	y, m, d := now.Date()
	return now.Format("2006-01-02"), now.Format("2006-01"),
		time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC), time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}

// Allow refuses c once its agent's or its user's tokens of the day or
// the month reach the budget.
func (l *MemLedger) Allow(_ context.Context, c Caller) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	day, month, _, _ := periods(now)
	used := warder.LLMTotals{
		AgentDay: l.used["agent:"+c.Agent+":"+day], AgentMonth: l.used["agent:"+c.Agent+":"+month],
		UserDay: l.used["user:"+c.User+":"+day], UserMonth: l.used["user:"+c.User+":"+month],
	}
	return Check(now, used, l.Agent, l.User)
}

// BudgetError is the refusal of a request whose budget is spent. It is
// a *warder.RateLimitError (ErrRateLimited, retry when the budget
// renews) with what was spent, for those who count refusals.
type BudgetError struct {
	Who    string // "agent" or "user"
	Span   string // "daily" or "monthly"
	Used   int64
	Limit  int64
	Renews time.Time
	retry  *warder.RateLimitError
}

// Error is the caller-facing message.
func (e *BudgetError) Error() string { return e.retry.Msg }

// Unwrap is the RateLimitError, so errors.As finds when to retry.
func (e *BudgetError) Unwrap() error { return e.retry }

// Check is every Ledger's rule: nil while each budget (0 unlimited) is
// above what was used, else a *BudgetError naming the first spent (the
// agent's day, its month, the user's day, its month).
func Check(now time.Time, used warder.LLMTotals, agent, user Budget) error {
	_, _, dayEnd, monthEnd := periods(now)
	for _, chk := range []struct {
		who, span   string
		used, limit int64
		end         time.Time
	}{
		{"agent", "daily", used.AgentDay, agent.PerDay, dayEnd},
		{"agent", "monthly", used.AgentMonth, agent.PerMonth, monthEnd},
		{"user", "daily", used.UserDay, user.PerDay, dayEnd},
		{"user", "monthly", used.UserMonth, user.PerMonth, monthEnd},
	} {
		if chk.limit <= 0 || chk.used < chk.limit {
			continue
		}
		return &BudgetError{Who: chk.who, Span: chk.span, Used: chk.used, Limit: chk.limit, Renews: chk.end, retry: &warder.RateLimitError{
			Msg:        fmt.Sprintf("this %s's %s token budget is spent (%d of %d tokens); it renews at %s", chk.who, chk.span, chk.used, chk.limit, chk.end.Format(time.RFC3339)),
			RetryAfter: chk.end.Sub(now),
		}}
	}
	return nil
}

// Record adds u's tokens to its agent's and its user's day and month.
func (l *MemLedger) Record(_ context.Context, u Usage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	day, month, _, _ := periods(u.At)
	n := u.PromptTokens + u.CompletionTokens
	for _, k := range []string{"agent:" + u.Agent + ":" + day, "agent:" + u.Agent + ":" + month, "user:" + u.User + ":" + day, "user:" + u.User + ":" + month} {
		l.used[k] += n
	}
	l.log = append(l.log, u)
	return nil
}

// Usages returns what was recorded, in order.
func (l *MemLedger) Usages() []Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Usage(nil), l.log...)
}
