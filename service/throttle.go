package service

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder"
)

// Login throttling: after freeFailures failed logins for one account (or
// freeFailures*4 from one address) each further failure locks further
// attempts for twice as long as the last, from one second up to maxLock.
// A success clears the account's count. The account key is the login as
// typed, so the answer is the same whether the user exists or not.
//
// Registration throttling: every registration from one address that gets
// as far as the database (taken names included: they are how names are
// probed) counts, and past freeRegistrations each locks the next as a
// failed login does.
const (
	freeFailures      = 5
	freeRegistrations = 20
	maxLock           = 15 * time.Minute
	forgetAfter       = time.Hour
)

// throttle counts failed logins (or registrations) per key. It is per
// process: with several Warder processes an attacker gets each one's
// allowance.
type throttle struct {
	// what is counted, for the refusal: "failed logins".
	what string
	mu   sync.Mutex
	keys map[string]*failures
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

type failures struct {
	count  int
	last   time.Time
	locked time.Time // until
}

func accountKey(login string) string { return "account:" + strings.ToLower(strings.TrimSpace(login)) }
func addressKey(from string) string  { return "address:" + from }

// check refuses while any of keys is locked.
func (t *throttle) check(now time.Time, keys ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.locked(now, keys...)
}

// attempt refuses while key is locked, and otherwise counts one attempt
// for it, as count does; deciding under one lock, so concurrent attempts
// cannot all slip in under the allowance.
func (t *throttle) attempt(now time.Time, key string, free int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.locked(now, key); err != nil {
		return err
	}
	t.add(now, key, free)
	return nil
}

// locked is check with t.mu held.
func (t *throttle) locked(now time.Time, keys ...string) error {
	for _, k := range keys {
		if f := t.keys[k]; f != nil && now.Before(f.locked) {
			wait := f.locked.Sub(now)
			return &warder.RateLimitError{
				Msg:        fmt.Sprintf("too many %s; try again in %s", t.what, wait.Round(time.Second)),
				RetryAfter: wait,
			}
		}
	}
	return nil
}

// fail records a failed login for each key with its own allowance.
func (t *throttle) fail(now time.Time, account, address string) {
	t.count(now, account, freeFailures)
	t.count(now, address, freeFailures*4)
}

// count records one attempt for key, which may make free attempts before
// each further one locks it.
func (t *throttle) count(now time.Time, key string, free int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(now, key, free)
}

// add is count with t.mu held.
func (t *throttle) add(now time.Time, key string, free int) {
	if t.keys == nil {
		t.keys = map[string]*failures{}
	}
	f := t.keys[key]
	if f == nil || now.Sub(f.last) > forgetAfter {
		f = &failures{}
		t.keys[key] = f
	}
	f.count++
	f.last = now
	if over := f.count - free; over > 0 {
		lock := time.Second << min(over-1, 20)
		f.locked = now.Add(min(lock, maxLock))
	}
	if len(t.keys) > 100_000 {
		t.forget(now)
	}
}

// succeed clears the account's failures.
func (t *throttle) succeed(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, account)
}

// forget drops keys idle long enough to start over, bounding memory.
func (t *throttle) forget(now time.Time) {
	for k, f := range t.keys {
		if now.Sub(f.last) > forgetAfter && now.After(f.locked) {
			delete(t.keys, k)
		}
	}
}
