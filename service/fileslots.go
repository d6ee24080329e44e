package service

import (
	"fmt"
	"sync"
	"time"

	"github.com/warder/warder"
)

// fileSlots counts the files calls running now per user, on this
// process, so one user's calls (a read-only key's listings of a large
// tree, say) cannot take every helper and disk turn from the others.
type fileSlots struct {
	mu     sync.Mutex
	byUser map[string]int
}

// take holds a slot for user, or answers 429 when perUser are taken.
func (f *fileSlots) take(userID string, perUser int) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byUser == nil {
		f.byUser = map[string]int{}
	}
	if f.byUser[userID] >= perUser {
		return nil, &warder.RateLimitError{Msg: fmt.Sprintf("%d of your file operations already run, the most at once (WARDER_MAX_FILE_OPS_PER_USER)", perUser), RetryAfter: time.Second}
	}
	f.byUser[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.byUser[userID]--; f.byUser[userID] == 0 {
				delete(f.byUser, userID)
			}
		})
	}, nil
}
