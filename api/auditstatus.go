package api

import (
	"context"

	"github.com/warder/warder"
)

// AuditStatuses is store as the service should record through it: an
// audit entry the service makes for an action outside an API answer of
// its own (an exec's end, a start on demand) carries the error the action
// ended with (AuditEntry.Err), and gets the status the API answers that
// error with, so the service (and the root package) need not know HTTP
// statuses. Every other call goes to store as it is.
func AuditStatuses(store warder.Store) warder.Store { return auditStatuses{store} }

type auditStatuses struct{ warder.Store }

// RecordAudit sets e.Status from e.Err, if any, then records e.
func (s auditStatuses) RecordAudit(ctx context.Context, e *warder.AuditEntry) error {
	if e.Err != nil {
		e.Status = StatusOf(e.Err)
	}
	return s.Store.RecordAudit(ctx, e)
}
