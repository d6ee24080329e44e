package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/llmgateway"
)

// LLMBudgetAuditAction starts the action of the audit entries that sum
// up the LLM gateway's budget refusals: "llm budget refused (agent
// daily)".
const LLMBudgetAuditAction = "llm budget refused"

// auditedLedger is the gateway's ledger, counting the requests it
// refuses over budget per agent and budget, to be audited in aggregate
// (one entry per agent and budget per period, never one per request),
// as the egress proxy's refusals are.
type auditedLedger struct {
	llmgateway.Ledger
	every time.Duration

	mu      sync.Mutex
	refused map[refusalKey]*refusalCount
}

type refusalKey struct{ agent, user, who, span string }

type refusalCount struct {
	n           int
	first, last time.Time
	detail      string
}

func newAuditedLedger(l llmgateway.Ledger, every time.Duration) *auditedLedger {
	if every <= 0 {
		every = llmRefusalEvery
	}
	return &auditedLedger{Ledger: l, every: every, refused: map[refusalKey]*refusalCount{}}
}

// Allow is the ledger's, counting refusals over budget.
func (l *auditedLedger) Allow(ctx context.Context, c llmgateway.Caller) error {
	err := l.Ledger.Allow(ctx, c)
	var be *llmgateway.BudgetError
	if errors.As(err, &be) {
		now := time.Now()
		l.mu.Lock()
		k := refusalKey{c.Agent, c.User, be.Who, be.Span}
		rc := l.refused[k]
		if rc == nil {
			rc = &refusalCount{first: now}
			l.refused[k] = rc
		}
		rc.n++
		rc.last, rc.detail = now, be.Error()
		l.mu.Unlock()
	}
	return err
}

// take returns the counts so far and starts afresh.
func (l *auditedLedger) take() map[refusalKey]*refusalCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.refused
	l.refused = map[refusalKey]*refusalCount{}
	return out
}

// run audits the counts every period and once more when ctx ends.
func (l *auditedLedger) run(ctx context.Context, store warder.Store, log *slog.Logger) {
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.audit(store, log)
		case <-ctx.Done():
			l.audit(store, log)
			return
		}
	}
}

// audit writes one entry per agent and budget refused since the last,
// under the agent's owner.
func (l *auditedLedger) audit(store warder.Store, log *slog.Logger) {
	counts := l.take()
	if len(counts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := map[string]string{}
	for k, rc := range counts {
		name, ok := names[k.user]
		if !ok {
			if u, err := store.UserByID(ctx, k.user); err == nil {
				name = u.Username
			}
			names[k.user] = name
		}
		e := &warder.AuditEntry{
			At: rc.last.UTC(), UserID: k.user, Username: name, AgentID: k.agent,
			Action: fmt.Sprintf("%s (%s %s)", LLMBudgetAuditAction, k.who, k.span),
			Status: http.StatusTooManyRequests,
			Result: fmt.Sprintf("%d refused since %s: %s", rc.n, rc.first.UTC().Format(time.RFC3339), rc.detail),
		}
		if err := store.RecordAudit(ctx, e); err != nil {
			log.Error("recording LLM budget refusals", "agent", k.agent, "err", err)
		}
	}
}
