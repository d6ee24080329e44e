package sqlstore

import (
	"sync"
	"time"

	"github.com/warder/warder"
)

// rowTTL is the longest a cached agent row is served after the read
// that fetched it began. It bounds what no notification covers: on
// SQLite, another process writing the same file (warder rotate-secrets
// runs while Warder serves); on PostgreSQL, a LISTEN connection that
// died without its socket saying so. One second, as for credentials
// (service.DefaultCredentialTTL), costs a busy reader one query a second.
const rowTTL = time.Second

// maxCachedRows bounds the cache's memory: a full cache evicts an
// arbitrary row for each new one. Rows live a second, so this is the
// number of distinct agents read within a second that stay fast; each
// row is the agent's fields and its two configs, a few hundred bytes to
// a few kilobytes.
const maxCachedRows = 1024

// rowCache keeps agent rows by id for CachedAgent, so showing an agent
// (GET /api/agents/{id}) and checking who may see it cost no round trip
// to the database. Read-modify-writes read the database (Agent): a row
// another replica changed a moment ago is never written back from here.
//
// A row stops being served:
//   - when a write through this DB returns: every writer of agents in
//     this package calls forget (TestEveryAgentWriterForgets looks);
//   - on PostgreSQL, when the trigger of migration 0010 notifies
//     agentChannel of a write by anyone, and the feed's listener calls
//     notified; the cache serves only while that LISTEN is up and is
//     emptied when it drops (listening), so no notification can be
//     missed while rows are served;
//   - rowTTL after its read began, whatever else happens.
//
// A read racing a write must not store what it read after the write
// forgot the row. So a read is handed a token, kept on the row's entry,
// before its query is sent; forget and flush delete entries, tokens and
// all; put stores a row only under the token its entry still holds.
type rowCache struct {
	mu sync.Mutex
	m  map[string]*cachedRow
	// token is the last token handed out.
	token uint64
	// listeners counts the live LISTENs on agentChannel. A shared
	// database (PostgreSQL) is served from the cache only while one is
	// up: other processes' writes are heard of through it alone.
	listeners int
	// ttl, when set, replaces rowTTL: tests that must tell a row
	// forgotten from one expired make it long.
	ttl time.Duration
}

// cachedRow is an agent row (nil until first read), and the read of it
// in flight, if any.
type cachedRow struct {
	agent *warder.Agent
	// read is when the read that fetched agent began: it is served until
	// read+TTL.
	read time.Time
	// token names the read in flight (0: none), begun at since; put
	// takes its row only under this token.
	token uint64
	since time.Time
}

// get returns a copy of the row of agent id if the cache holds it.
// Otherwise a token other than 0 means the caller should read the row
// and put it under that token; 0 means the cache is not to be used now
// (shared is whether the database has other writers to hear of).
//
// A row in the last quarter of its TTL is refreshed ahead: the first
// caller to find it there reads the database, while the others are
// still served until the new row is in. Without that, every reader of a
// busy agent missed together at each expiry and queried at once (on a
// loaded machine, PostgreSQL's GET went from 0.5 of /healthz to 0.4).
func (c *rowCache) get(id string, now time.Time, shared bool) (*warder.Agent, uint64) {
	c.mu.Lock()
	a, token := c.lookup(id, now, shared)
	c.mu.Unlock()
	if a != nil {
		// Copied outside the lock: a stored row is never changed, only
		// replaced or dropped.
		return cloneAgent(a), 0
	}
	return nil, token
}

// lookup is get under c.mu, without the copy.
func (c *rowCache) lookup(id string, now time.Time, shared bool) (*warder.Agent, uint64) {
	if shared && c.listeners == 0 {
		return nil, 0
	}
	ttl := c.ttl
	if ttl == 0 {
		ttl = rowTTL
	}
	e := c.m[id]
	if e != nil && e.agent != nil && now.Sub(e.read) < ttl {
		if e.token != 0 || now.Sub(e.read) < ttl-ttl/4 {
			return e.agent, 0
		}
		c.token++
		e.token, e.since = c.token, now
		return nil, e.token
	}
	if e != nil && e.token != 0 && now.Sub(e.since) < ttl {
		// A read in flight since e.since, which no write has voided
		// (forget deletes the entry): this caller may fill it as well.
		return nil, e.token
	}
	if e == nil && len(c.m) >= maxCachedRows {
		for k := range c.m { // map order is random enough for eviction
			delete(c.m, k)
			break
		}
	}
	if c.m == nil {
		c.m = make(map[string]*cachedRow)
	}
	c.token++
	c.m[id] = &cachedRow{token: c.token, since: now}
	return nil, c.token
}

// put stores a copy of a, read under token, unless the row was
// forgotten since the token was handed out.
func (c *rowCache) put(token uint64, a *warder.Agent) {
	a = cloneAgent(a)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[a.ID]; e != nil && e.token == token {
		e.agent, e.read, e.token = a, e.since, 0
	}
}

// forget drops agent id's row, and any read of it in flight.
func (c *rowCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// flush drops every row and every read in flight.
func (c *rowCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// notified handles a notification on agentChannel: the id of the agent
// written, or "" for all of them (TRUNCATE).
func (c *rowCache) notified(payload string) {
	if payload == "" {
		c.flush()
		return
	}
	c.forget(payload)
}

// listening records that a LISTEN on agentChannel came up (true) or went
// down (false). Going down empties the cache: what was notified while no
// one listened is unknown.
func (c *rowCache) listening(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if up {
		c.listeners++
		return
	}
	c.listeners--
	clear(c.m)
}

// cloneAgent returns a copy of a that shares no map, slice or pointer
// with it, so no caller can change a cached row.
func cloneAgent(a *warder.Agent) *warder.Agent {
	c := *a
	c.Config = copyJSONObject(a.Config)
	c.KnowledgeBase = copyJSONObject(a.KnowledgeBase)
	c.ContainerConfig = a.ContainerConfig.Clone()
	if a.ExitCode != nil {
		code := *a.ExitCode
		c.ExitCode = &code
	}
	return &c
}
