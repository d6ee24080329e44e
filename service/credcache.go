package service

import (
	"sync"
	"time"

	"github.com/warder/warder"
)

// DefaultCredentialTTL is how long a credential that authenticated is
// believed without asking the store again. It bounds how late a
// revocation made through another process (another replica, or the
// warder CLI) bites here: a logout, a key deleted, a user disabled or
// their role changed elsewhere is refused here at most this long after
// it committed. Through this process it bites at once: the revoking
// call drops the cached entries itself. One second keeps that window
// well inside "within seconds" (docs/security.md) while turning every
// busy client's credential lookup into at most one query a second.
const DefaultCredentialTTL = time.Second

// maxCachedCredentials bounds the cache's memory: past it, a new
// credential is checked against the store every time until entries
// expire. Each entry is one user row (a few hundred bytes).
const maxCachedCredentials = 10_000

// credentialCache remembers, by token hash, whom a token or API key
// authenticated as, for a short TTL. Only successes are kept: a bad
// token always asks the store, so nothing a stranger sends fills it.
type credentialCache struct {
	ttl time.Duration // <= 0: off
	mu  sync.Mutex
	m   map[string]cachedCredential
	// gen counts forgets: a lookup that began before one (see begin)
	// may have read a row the revocation then deleted, so put drops it.
	gen uint64
}

type cachedCredential struct {
	user    warder.User // with Key set for an API key
	expires time.Time   // the TTL, or the credential's own expiry if sooner
	// refreshing: a caller was sent to the store ahead of expires.
	refreshing bool
}

// get returns a copy of the user hash authenticated as, if that was
// learnt less than the TTL ago and the credential has not expired.
//
// In an entry's last quarter, the first caller is told to look it up
// again while the others are still served until the new entry is put:
// otherwise every request of a busy client missed together at each
// expiry and queried the store at once (sqlstore's row cache does the
// same; docs/benchmarks.md).
func (c *credentialCache) get(hash string, now time.Time) (*warder.User, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.m[hash]
	refresh := ok && !e.refreshing && e.expires.Sub(now) < c.ttl/4
	if refresh {
		e.refreshing = true
		c.m[hash] = e
	}
	c.mu.Unlock()
	if refresh || !ok || !now.Before(e.expires) {
		return nil, false
	}
	u := e.user // a copy: callers may set per-request fields
	if u.Key != nil {
		k := *u.Key
		u.Key = &k
	}
	return &u, true
}

// begin is called before a store lookup whose result may be put.
func (c *credentialCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers that hash authenticated as u at now, unless a credential
// was forgotten since the lookup began (gen, from begin); until is when
// the credential itself expires (zero: never).
func (c *credentialCache) put(gen uint64, hash string, u *warder.User, now, until time.Time) {
	if c.ttl <= 0 {
		return
	}
	expires := now.Add(c.ttl)
	if !until.IsZero() && until.Before(expires) {
		expires = until
	}
	e := cachedCredential{user: *u, expires: expires}
	if u.Key != nil {
		k := *u.Key
		e.user.Key = &k
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // a revocation may have raced the lookup
	}
	if c.m == nil {
		c.m = map[string]cachedCredential{}
	}
	if len(c.m) >= maxCachedCredentials {
		for h, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, h)
			}
		}
		if len(c.m) >= maxCachedCredentials {
			return
		}
	}
	c.m[hash] = e
}

// forget drops one credential, for a logout through this process.
func (c *credentialCache) forget(hash string) {
	c.mu.Lock()
	c.gen++
	delete(c.m, hash)
	c.mu.Unlock()
}

// forgetUser drops every credential of a user: their key revoked (with
// the keys made with it, whose hashes are not at hand), their account
// disabled, their role or limits changed.
func (c *credentialCache) forgetUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.m {
		if e.user.ID == userID {
			delete(c.m, h)
		}
	}
}
