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
const (
	freeFailures = 5
	maxLock      = 15 * time.Minute
	forgetAfter  = time.Hour
)

// throttle counts failed logins per key. It is per process: with several
// Warder processes an attacker gets each one's allowance.
type throttle struct {
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
	for _, k := range keys {
		if f := t.keys[k]; f != nil && now.Before(f.locked) {
			wait := f.locked.Sub(now)
			return &warder.RateLimitError{
				Msg:        fmt.Sprintf("too many failed logins; try again in %s", wait.Round(time.Second)),
				RetryAfter: wait,
			}
		}
	}
	return nil
}

// fail records a failed login for each key with its own allowance.
func (t *throttle) fail(now time.Time, account, address string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = map[string]*failures{}
	}
	for k, free := range map[string]int{account: freeFailures, address: freeFailures * 4} {
		f := t.keys[k]
		if f == nil || now.Sub(f.last) > forgetAfter {
			f = &failures{}
			t.keys[k] = f
		}
		f.count++
		f.last = now
		if over := f.count - free; over > 0 {
			lock := time.Second << min(over-1, 20)
			f.locked = now.Add(min(lock, maxLock))
		}
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
