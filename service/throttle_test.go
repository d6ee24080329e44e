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
	ctx := context.Background()
	now := time.Now()
	th := throttle{what: "failed logins", store: &memAttempts{}, clock: func() time.Time { return now }}
	acct, addr := accountKey("Alice"), addressKey("10.0.0.1")
	login := func(account, address string) error {
		return th.attempt(ctx, map[string]int{account: freeFailures, address: freeFailures * 4})
	}
	// The allowance and one more are let through (and counted); then a
	// lock of a second, growing with every further failure.
	for i := 0; i <= freeFailures; i++ {
		if err := login(acct, addr); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
	}
	var rl *warder.RateLimitError
	if err := login(acct, addr); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("after %d failures: %v", freeFailures+1, err)
	}
	now = now.Add(1500 * time.Millisecond)
	if err := login(accountKey("ALICE"), addr); err != nil {
		t.Fatalf("the lock should have passed: %v", err)
	}
	if err := login(acct, addr); !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("the lock grows and ignores case: %v", err)
	}
	// Another account from another address is untouched; a success clears.
	if err := login(accountKey("bob"), addressKey("10.0.0.2")); err != nil {
		t.Fatalf("bob: %v", err)
	}
	now = now.Add(3 * time.Second)
	if err := th.succeed(ctx, acct, addr); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= freeFailures; i++ {
		if err := login(acct, addr); err != nil {
			t.Fatalf("after a success, attempt %d refused: %v", i, err)
		}
	}
	now = now.Add(time.Hour)
	for i := 0; i < 30; i++ {
		login(accountKey(fmt.Sprint("x", i)), addressKey("10.0.0.9"))
	}
	if err := login(accountKey("brand-new"), addressKey("10.0.0.9")); !errors.As(err, &rl) || rl.RetryAfter > maxLock {
		t.Fatalf("an address spraying accounts is not locked: %v", err)
	}
	// Forgetting drops what is idle, not what is locked.
	if err := th.store.ForgetAttempts(ctx, now.Add(-forgetAfter+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := login(accountKey("brand-new"), addressKey("10.0.0.9")); !errors.As(err, &rl) {
		t.Fatalf("a locked address was forgotten: %v", err)
	}
}

func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 1)
	mustUser(t, s, "alice")
	frozen := time.Now() // bcrypt on a loaded machine must not outlast a lock
	s.Auth.logins.clock = func() time.Time { return frozen }
	for i, login := range []string{"alice", "nobody"} {
		from := fmt.Sprintf("10.1.1.%d", 10+i)
		var last error
		for i := 0; i < freeFailures+1; i++ {
			_, last = s.Auth.Login(ctx, login, "wrong", from)
		}
		_, err := s.Auth.Login(ctx, login, "wrong", from)
		if !errors.Is(err, warder.ErrRateLimited) || !errors.Is(last, warder.ErrUnauthorized) {
			t.Fatalf("%s: last failure %v, then %v", login, last, err)
		}
	}
	// Locked means locked, even with the right password.
	if _, err := s.Auth.Login(ctx, "alice", "password", "10.1.1.2"); !errors.Is(err, warder.ErrRateLimited) {
		t.Fatalf("right password while locked: %v", err)
	}
}
