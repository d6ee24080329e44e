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
	day, month, dayEnd, monthEnd := periods(now)
	for _, chk := range []struct {
		who, id, period string
		limit           int64
		end             time.Time
	}{
		{"agent", c.Agent, day, l.Agent.PerDay, dayEnd},
		{"agent", c.Agent, month, l.Agent.PerMonth, monthEnd},
		{"user", c.User, day, l.User.PerDay, dayEnd},
		{"user", c.User, month, l.User.PerMonth, monthEnd},
	} {
		if chk.limit <= 0 {
			continue
		}
		if used := l.used[chk.who+":"+chk.id+":"+chk.period]; used >= chk.limit {
			span := "daily"
			if chk.period == month {
				span = "monthly"
			}
			return &warder.RateLimitError{
				Msg:        fmt.Sprintf("this %s's %s token budget is spent (%d of %d tokens); it renews at %s", chk.who, span, used, chk.limit, chk.end.Format(time.RFC3339)),
				RetryAfter: chk.end.Sub(now),
			}
		}
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
