package service

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/warder/warder"
)

// hashWait is the longest a registration or login waits for a turn to
// hash; then it is told to try again. Without a bound, a flood would
// queue work for minutes that its callers have long given up on.
const hashWait = 5 * time.Second

// errHashBusy is the answer of a caller that waited hashWait in vain.
var errHashBusy = &warder.RateLimitError{
	Msg:        "the server is busy checking passwords; try again in a second",
	RetryAfter: time.Second,
}

// hasher runs bcrypt, the one CPU-heavy thing a caller without a token
// can make Warder do (about 50–100 ms of a core at the default cost), at
// most len(slots) at a time: a flood of registrations or logins then
// takes those cores and leaves the rest to everyone else.
type hasher struct {
	slots chan struct{}
	wait  time.Duration // hashWait; shorter in tests
}

// defaultHashWorkers is half the CPUs Go may use, and at least one.
func defaultHashWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

func newHasher(workers int) *hasher {
	if workers <= 0 {
		workers = defaultHashWorkers()
	}
	return &hasher{slots: make(chan struct{}, workers), wait: hashWait}
}

// turn waits for a free slot, at most h.wait, and returns its release.
func (h *hasher) turn(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-t.C:
		return nil, errHashBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hash returns password's bcrypt hash.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	release, err := h.turn(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(b), err
}

// matches reports whether password is the one hash was made from.
func (h *hasher) matches(ctx context.Context, hash, password string) (bool, error) {
	release, err := h.turn(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil, nil
}
