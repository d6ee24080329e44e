package warder

import (
	"context"
	"time"
)

// Store is everything Warder persists, behind one handle.
type Store interface {
	UserStore
	TokenStore
	RefreshTokenStore
	KeyStore
	AgentStore
	ConversationStore
	AuditStore
	// Ping reports whether the database answers (ErrUnavailable if not).
	Ping(ctx context.Context) error
	Close() error
}

// Locker makes work on one key take turns across every process that
// shares the store (on PostgreSQL, an advisory lock); where the store is
// one process's own (SQLite), the caller's in-process lock is enough and
// Lock returns at once.
type Locker interface {
	// Lock waits until key is free (or ctx ends) and takes it; unlock
	// gives it back and is safe to call twice.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// Attempts is one key's record of throttled attempts: failed logins of an
// account or from an address, registrations from an address.
type Attempts struct {
	Key         string
	Count       int
	Last        time.Time
	LockedUntil time.Time
}

// AttemptStore keeps Attempts where every process that throttles with it
// sees the same counts, so an allowance is one for all of them.
type AttemptStore interface {
	// UpdateAttempts loads the records of keys (a zero record with Key set
	// for a key without one), lets fn change them in place, and stores
	// them, as one atomic step: concurrent calls that name a key take
	// turns, across processes. When fn fails nothing is stored and its
	// error is returned.
	UpdateAttempts(ctx context.Context, keys []string, fn func([]*Attempts) error) error
	// ForgetAttempts deletes records last counted before before and no
	// longer locked.
	ForgetAttempts(ctx context.Context, before time.Time) error
}
