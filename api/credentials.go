package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/warder/warder"
)

// credentialRecheck is how often a request still open re-checks the
// credential it was made with. Revocation is a row deleted (or a user
// disabled) in the database every Warder process shares, so asking the
// database again reaches every process without a message bus, and a
// stream ends at most this long, plus the service's credential cache
// (service.DefaultCredentialTTL, 1 s, for a revocation made by another
// process) and one lookup, after its credential does. It costs at most
// one indexed lookup per credential per cache TTL, and nothing for the
// short requests that end before their first check.
const credentialRecheck = 2 * time.Second

// errCredentialEnded is the cause a request's context is cancelled with
// when its credential stops authenticating: logged out, revoked, expired,
// its user disabled or their role changed.
var errCredentialEnded = warder.Errorf(warder.ErrUnauthorized,
	"the credential this request was made with was revoked, expired or changed")

// watchCredential returns a context for h that ends (with cause
// errCredentialEnded) once token no longer authenticates as caller, and
// the function that stops watching. Every signed-in request goes through
// it (see authed), so no stream — logs, stats, events, chat, the proxy's
// long answers and websockets — outlives its credential by more than
// credentialRecheck. A database that does not answer is not a revocation:
// the request goes on, and is checked again next time.
func (s *Server) watchCredential(parent context.Context, token string, caller *warder.User) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	var mu sync.Mutex
	stopped := false
	var timer *time.Timer
	check := func() {
		cctx, done := context.WithTimeout(ctx, credentialRecheck)
		u, err := s.auth.Authenticate(cctx, token)
		done()
		if errors.Is(err, warder.ErrUnauthorized) || (err == nil && u.Role != caller.Role) {
			cancel(errCredentialEnded)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer.Reset(credentialRecheck)
		}
	}
	mu.Lock()
	timer = time.AfterFunc(credentialRecheck, check)
	mu.Unlock()
	return ctx, func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
		cancel(nil)
	}
}

// credentialEnded reports whether r's context ended because its
// credential did.
func credentialEnded(r *http.Request) bool {
	return errors.Is(context.Cause(r.Context()), errCredentialEnded)
}

// DefaultMaxStreamsPerUser is how many streams one user may hold open at
// once on one Warder process: logs follows, stats streams, event
// streams, streamed chats and proxied requests together. Each holds a
// connection, a goroutine or two and often a Docker stream or a
// connection to an agent; 32 is more than a dashboard with a few tabs
// needs, and keeps one user from holding thousands.
const DefaultMaxStreamsPerUser = 32

// streamSlots counts each user's open streams.
type streamSlots struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

// hold takes one of the user's slots, or refuses with 429 when they are
// all taken; release gives it back.
func (s *streamSlots) hold(userID string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[userID] >= s.max {
		return nil, warder.Errorf(warder.ErrRateLimited,
			"too many open streams: a user may have at most %d at once (logs, stats, events, streamed chats and proxied requests together); close one first", s.max)
	}
	if s.open == nil {
		s.open = map[string]int{}
	}
	s.open[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.open[userID]--; s.open[userID] <= 0 {
				delete(s.open, userID)
			}
		})
	}, nil
}
