package warder

import (
	"context"
)

// Store is everything Warder persists, behind one handle.
type Store interface {
	UserStore
	TokenStore
	KeyStore
	AgentStore
	ConversationStore
	AuditStore
	// Ping reports whether the database answers (ErrUnavailable if not).
	Ping(ctx context.Context) error
	Close() error
}
