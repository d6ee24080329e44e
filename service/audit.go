package service

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// MaxAuditEntries caps one read of the audit log.
const MaxAuditEntries = 1000

// RecordAudit appends e to the audit log.
func (s *Admin) RecordAudit(ctx context.Context, e *warder.AuditEntry) error {
	return s.store.RecordAudit(ctx, e)
}

// AuditLog lists audit entries, newest first; only admins may read it.
func (s *Admin) AuditLog(ctx context.Context, caller *warder.User, q warder.AuditQuery) ([]*warder.AuditEntry, error) {
	if !caller.IsAdmin() {
		return nil, warder.Errorf(warder.ErrForbidden, "only admins may read the audit log")
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 1 || q.Limit > MaxAuditEntries {
		return nil, warder.Errorf(warder.ErrInvalid, "limit must be between 1 and %d", MaxAuditEntries)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return nil, warder.Errorf(warder.ErrInvalid, "until must be after since")
	}
	f := warder.AuditFilter{AgentID: q.AgentID, Since: q.Since, Until: q.Until, Limit: q.Limit}
	if q.User != "" {
		if _, err := uuid.Parse(q.User); err == nil {
			f.UserID = q.User
		} else {
			u, err := s.store.UserByLogin(ctx, q.User)
			if errors.Is(err, warder.ErrNotFound) {
				return nil, warder.Errorf(warder.ErrInvalid, "user %q names no user", q.User)
			} else if err != nil {
				return nil, err
			}
			f.UserID = u.ID
		}
	}
	return s.store.AuditEntries(ctx, f)
}
