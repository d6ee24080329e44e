package opensandbox

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/warder/warder"
)

// ExpiryStore is what the expirer reads: every agent, and their owners.
type ExpiryStore interface {
	ListAgents(ctx context.Context, f warder.AgentFilter) ([]*warder.Agent, error)
	UserByID(ctx context.Context, id string) (*warder.User, error)
}

// AgentDeleter deletes an agent as its caller may.
type AgentDeleter interface {
	DeleteAgent(ctx context.Context, caller *warder.User, id string) error
}

// AuditRecorder records what the expirer did.
type AuditRecorder interface {
	RecordAudit(ctx context.Context, e *warder.AuditEntry) error
}

// Expirer deletes sandboxes whose expiration (a create's timeout, moved
// by renew-expiration) has passed, as OpenSandbox does: the agent, its
// workspace and its snapshots, each deletion audited. One replica runs
// it (the leader), every Every.
type Expirer struct {
	Store  ExpiryStore
	Agents AgentDeleter
	Audit  AuditRecorder
	Log    *slog.Logger
	Every  time.Duration
}

// Run sweeps until ctx ends.
func (e *Expirer) Run(ctx context.Context) {
	every := e.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := e.Sweep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			e.Log.WarnContext(ctx, "deleting expired sandboxes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes the sandboxes expired at now, and says how many.
func (e *Expirer) Sweep(ctx context.Context, now time.Time) (int, error) {
	agents, err := e.Store.ListAgents(ctx, warder.AgentFilter{})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, a := range agents {
		m := metaOf(a.Config)
		if m.ExpiresAt == nil || m.ExpiresAt.After(now) {
			continue
		}
		owner, err := e.Store.UserByID(ctx, a.UserID)
		if err == nil {
			err = e.Agents.DeleteAgent(ctx, owner, a.ID)
		}
		if errors.Is(err, warder.ErrNotFound) {
			continue // gone already
		}
		entry := &warder.AuditEntry{At: time.Now().UTC(), Action: "DELETE /api/agents/{id} (sandbox expired at " + m.ExpiresAt.UTC().Format(time.RFC3339) + ")", AgentID: a.ID, Status: 204, Result: "ok"}
		if owner != nil {
			entry.UserID, entry.Username = owner.ID, owner.Username
		}
		if err != nil {
			entry.Err, entry.Result = err, err.Error()
			errs = append(errs, err)
		} else {
			n++
			e.Log.InfoContext(ctx, "deleted an expired sandbox", "agent", a.ID, "expired_at", m.ExpiresAt)
		}
		if aerr := e.Audit.RecordAudit(context.WithoutCancel(ctx), entry); aerr != nil {
			e.Log.ErrorContext(ctx, "recording a sandbox's expiry", "agent", a.ID, "err", aerr)
		}
	}
	return n, errors.Join(errs...)
}
