package service

import (
	"context"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/logctx"
)

// mayStart is the one place that decides whether an agent may start now.
// Every path that starts an agent (POST /start, restart, chat and the
// proxy starting it on demand) calls start, and start calls this first,
// under the agent's lock. It checks what may have changed since the agent
// was made: the caller's credential, the owner's account, the image
// policy and the egress switch.
func (s *Agents) mayStart(ctx context.Context, caller *warder.User, a *warder.Agent) error {
	if caller.ReadOnly {
		return warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot start agents")
	}
	owner := caller
	if a.UserID != caller.ID {
		o, err := s.store.UserByID(ctx, a.UserID)
		if err != nil {
			return err
		}
		owner = o
	}
	if owner.Disabled {
		return warder.Errorf(warder.ErrForbidden, "the agent's owner %s is disabled", owner.Username)
	}
	// The image policy is the owner's: the agent runs as theirs, whoever
	// starts it. It may have tightened since the agent was made.
	if err := s.checkImage(owner, a.ContainerConfig.Image); err != nil {
		return err
	}
	if a.ContainerConfig.Network == warder.NetworkEgress && s.cfg.Egress.Forbid {
		return warder.Errorf(warder.ErrForbidden, `the agent is on the "egress" network, which the operator has disabled (WARDER_ALLOW_EGRESS=false); change its container_config.network to "internal" first`)
	}
	return s.egressMayStart(a) // egresslist.go
}

// auditStart records a start that no API call of its own recorded: one
// that chat or the proxy caused. POST /start and /restart are audited by
// the API like every other change.
func (s *Agents) auditStart(ctx context.Context, caller *warder.User, a *warder.Agent, cause string, err error) {
	e := &warder.AuditEntry{
		At: time.Now().UTC(), UserID: caller.ID, Username: caller.Username,
		Action: "start on demand (" + cause + ")", AgentID: a.ID,
		Status: 200, Result: "ok", RequestID: logctx.RequestID(ctx),
	}
	if err != nil {
		e.Err = err // the store sets Status from it (api.AuditStatuses)
		e.Result = errText(err)
	}
	if aerr := s.store.RecordAudit(context.WithoutCancel(ctx), e); aerr != nil {
		s.log.ErrorContext(ctx, "recording an on-demand start", "agent", a.ID, "err", aerr)
	}
}
