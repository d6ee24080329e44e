package egress

import (
	"context"
	"sync"
	"time"
)

// CachedAgents keeps the grants an Agents returns (and its refusals) for
// a short while, so a busy agent's requests do not each ask the store:
// a changed policy or a revoked token takes effect within ttl. At most
// maxEntries are kept; past that an arbitrary one makes room (names
// come from clients, so the cache must not grow with them).
func CachedAgents(inner Agents, ttl time.Duration, maxEntries int) Agents {
	return &cachedAgents{inner: inner, ttl: ttl, max: maxEntries, m: map[string]cachedGrant{}}
}

type cachedAgents struct {
	inner Agents
	ttl   time.Duration
	max   int

	mu sync.Mutex
	m  map[string]cachedGrant
}

type cachedGrant struct {
	g       Grant
	err     error
	expires time.Time
}

func (c *cachedAgents) EgressGrant(ctx context.Context, agent string) (Grant, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[agent]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.g, e.err
	}
	g, err := c.inner.EgressGrant(ctx, agent)
	if ctx.Err() != nil {
		return g, err // a cancelled lookup says nothing about the agent
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[agent]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[agent] = cachedGrant{g: g, err: err, expires: now.Add(c.ttl)}
	return g, err
}
