package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder"
)

// Login throttling: after freeFailures login attempts for one account (or
// freeFailures*4 from one address) that did not succeed, each further one
// locks further attempts for twice as long as the last, from one second up
// to maxLock. An attempt is counted before its password is checked, so
// concurrent attempts cannot all slip in under the allowance; a success
// takes its count back and clears the account's. The account key is the
// login as typed, so the answer is the same whether the user exists or
// not.
//
// Registration throttling: every registration from one address that gets
// as far as the database (taken names included: they are how names are
// probed) counts, and past freeRegistrations each locks the next as a
// failed login does.
//
// The counts live in an AttemptStore: in memory for one process
// (SQLite), in the database where replicas share PostgreSQL, so an
// allowance is one for all of them.
const (
	freeFailures      = 5
	freeRegistrations = 20
	maxLock           = 15 * time.Minute
	forgetAfter       = time.Hour
)

// throttle counts attempts (failed logins, registrations) per key.
type throttle struct {
	// what is counted, for the refusal: "failed logins".
	what string
	// kind prefixes the keys in the store, which throttles share:
	// "login:", "register:".
	kind  string
	store warder.AttemptStore
	// clock is time.Now unless a test sets it.
	clock func() time.Time
}

// now is the throttle's time.
func (t *throttle) now() time.Time {
	if t.clock != nil {
		return t.clock()
	}
	return time.Now()
}

func accountKey(login string) string { return "account:" + strings.ToLower(strings.TrimSpace(login)) }
func addressKey(from string) string  { return "address:" + from }

// attempt refuses while any of the keys (each with its allowance) is
// locked, and otherwise counts one attempt for each, deciding in one
// atomic step of the store.
func (t *throttle) attempt(ctx context.Context, allowances map[string]int) error {
	now := t.now()
	keys := make([]string, 0, len(allowances))
	for k := range allowances {
		keys = append(keys, t.kind+k)
	}
	return t.store.UpdateAttempts(ctx, keys, func(recs []*warder.Attempts) error {
		for _, r := range recs {
			if err := t.locked(now, r); err != nil {
				return err
			}
		}
		for _, r := range recs {
			add(now, r, allowances[strings.TrimPrefix(r.Key, t.kind)])
		}
		return nil
	})
}

// succeed takes back a successful login's attempt: the account's count
// is cleared, the address's lowered by one.
func (t *throttle) succeed(ctx context.Context, account, address string) error {
	return t.store.UpdateAttempts(ctx, []string{t.kind + account, t.kind + address}, func(recs []*warder.Attempts) error {
		for _, r := range recs {
			switch {
			case r.Key == t.kind+account:
				*r = warder.Attempts{Key: r.Key}
			case r.Count > 0:
				r.Count--
			}
		}
		return nil
	})
}

// locked is the refusal while r is locked at now, else nil.
func (t *throttle) locked(now time.Time, r *warder.Attempts) error {
	if !now.Before(r.LockedUntil) {
		return nil
	}
	wait := r.LockedUntil.Sub(now)
	return &warder.RateLimitError{
		Msg:        fmt.Sprintf("too many %s; try again in %s", t.what, wait.Round(time.Second)),
		RetryAfter: wait,
	}
}

// add counts one attempt in r, which may have free attempts before each
// further one locks it; a count idle for forgetAfter starts over.
func add(now time.Time, r *warder.Attempts, free int) {
	if now.Sub(r.Last) > forgetAfter {
		r.Count, r.LockedUntil = 0, time.Time{}
	}
	r.Count++
	r.Last = now
	if over := r.Count - free; over > 0 {
		lock := time.Second << min(over-1, 20)
		r.LockedUntil = now.Add(min(lock, maxLock))
	}
}

// memAttempts is the AttemptStore of one process: a map under a mutex.
type memAttempts struct {
	mu   sync.Mutex
	keys map[string]warder.Attempts
}

// UpdateAttempts implements warder.AttemptStore.
func (m *memAttempts) UpdateAttempts(_ context.Context, keys []string, fn func([]*warder.Attempts) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]warder.Attempts{}
	}
	recs := make([]*warder.Attempts, len(keys))
	for i, k := range keys {
		r := m.keys[k]
		r.Key = k
		recs[i] = &r
	}
	if err := fn(recs); err != nil {
		return err
	}
	for _, r := range recs {
		if r.Count == 0 && r.LockedUntil.IsZero() {
			delete(m.keys, r.Key)
		} else {
			m.keys[r.Key] = *r
		}
	}
	if len(m.keys) > 100_000 { // bound memory under a spray of keys
		m.forget(time.Now().Add(-forgetAfter))
	}
	return nil
}

// ForgetAttempts implements warder.AttemptStore.
func (m *memAttempts) ForgetAttempts(_ context.Context, before time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forget(before)
	return nil
}

// forget is ForgetAttempts with m.mu held.
func (m *memAttempts) forget(before time.Time) {
	for k, r := range m.keys {
		if r.Last.Before(before) && r.LockedUntil.Before(before) {
			delete(m.keys, k)
		}
	}
}
