package service

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warder/warder"
)

func TestThrottle(t *testing.T) {
	t.Parallel()
	var th throttle
	now := time.Now()
	acct, addr := accountKey("Alice"), addressKey("10.0.0.1")
	for i := 0; i < freeFailures; i++ {
		if err := th.check(now, acct, addr); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		th.fail(now, acct, addr)
	}
	// The allowance is spent: one more failure locks for a second, the
	// next for two, and so on.
	th.fail(now, acct, addr)
	var rl *warder.RateLimitError
	if err := th.check(now, acct, addr); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("after %d failures: %v", freeFailures+1, err)
	}
	th.fail(now, acct, addr)
	if err := th.check(now.Add(1500*time.Millisecond), accountKey("ALICE")); !errors.As(err, &rl) {
		t.Fatalf("the lock grows and ignores case: %v", err)
	}
	if err := th.check(now.Add(3*time.Second), acct); err != nil {
		t.Fatalf("the lock should have passed: %v", err)
	}
	// Another account from another address is untouched; a success clears.
	if err := th.check(now, accountKey("bob"), addressKey("10.0.0.2")); err != nil {
		t.Fatalf("bob: %v", err)
	}
	th.succeed(acct)
	if err := th.check(now, acct); err != nil {
		t.Fatalf("after a success: %v", err)
	}
	for i := 0; i < 30; i++ {
		th.fail(now.Add(time.Hour), accountKey("x"), addressKey("10.0.0.9"))
	}
	if err := th.check(now.Add(time.Hour), accountKey("brand-new"), addressKey("10.0.0.9")); !errors.As(err, &rl) || rl.RetryAfter > maxLock {
		t.Fatalf("an address spraying accounts is not locked: %v", err)
	}
}

func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 1)
	mustUser(t, s, "alice")
	frozen := time.Now() // bcrypt on a loaded machine must not outlast a lock
	s.logins.clock = func() time.Time { return frozen }
	for i, login := range []string{"alice", "nobody"} {
		from := fmt.Sprintf("10.1.1.%d", 10+i)
		var last error
		for i := 0; i < freeFailures+1; i++ {
			_, last = s.Login(ctx, login, "wrong", from)
		}
		_, err := s.Login(ctx, login, "wrong", from)
		if !errors.Is(err, warder.ErrRateLimited) || !errors.Is(last, warder.ErrUnauthorized) {
			t.Fatalf("%s: last failure %v, then %v", login, last, err)
		}
	}
	// Locked means locked, even with the right password.
	if _, err := s.Login(ctx, "alice", "password", "10.1.1.2"); !errors.Is(err, warder.ErrRateLimited) {
		t.Fatalf("right password while locked: %v", err)
	}
}
