package egress

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Agents finds an agent's proxy grant. The service backs it with the
// store; it is called once per proxied request or tunnel, so a backing
// that is slow should cache (for a short while: a revoked grant must stop
// working soon).
type Agents interface {
	// EgressGrant returns the grant of the agent the proxy user names.
	// Any error refuses the request as unauthenticated (the agent sees
	// the same 407 whether the agent or the token is wrong).
	EgressGrant(ctx context.Context, agent string) (Grant, error)
}

// Grant is what the proxy needs to know about one agent.
type Grant struct {
	// Agent is the agent's id, used in logs and counts.
	Agent string
	// TokenHash is HashToken of the agent's proxy token: only the hash
	// needs keeping, and the proxy compares hashes in constant time.
	TokenHash [32]byte
	// Policy is the agent's effective egress policy.
	Policy Policy
}

// HashToken is the hash a Grant keeps of a proxy token.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// NewToken returns a fresh random proxy token (256 bits, URL-safe, so
// it fits in a proxy URL unescaped).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand's contract since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Resolver looks names up; *net.Resolver is one. Tests give one that
// maps names to loopback addresses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Proxy. Zero values take the defaults noted.
type Config struct {
	// Agents finds agents' grants. Required.
	Agents Agents
	// Resolver resolves names; net.DefaultResolver by default.
	Resolver Resolver
	// Dial opens a TCP connection to an address the proxy has checked
	// (always an IP and a port); a net.Dialer's DialContext by default.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// MaxConnsPerAgent bounds an agent's open upstream connections
	// (tunnels and requests in flight); 64 by default.
	MaxConnsPerAgent int
	// IdleTimeout closes a tunnel or a forwarded exchange after this
	// long with no byte either way; 5 minutes by default.
	IdleTimeout time.Duration
	// DialTimeout bounds resolving and connecting; 10 s by default.
	DialTimeout time.Duration
	// HelloTimeout bounds the wait for a TLS ClientHello on a tunnel to
	// an SNI port; 10 s by default.
	HelloTimeout time.Duration
	// MaxHeaderBytes bounds a request's and a response's header; 64 KiB
	// by default.
	MaxHeaderBytes int
	// SNIPorts are the CONNECT ports on which a TLS ClientHello is
	// awaited and its server name checked; {443} by default. Only ports
	// whose client speaks first belong here.
	SNIPorts []uint16
	// Summary, if set, receives the refusals aggregated per agent,
	// destination and reason, every SummaryEvery (1 minute by default)
	// while Serve runs, and once more when it ends; never empty.
	Summary      func([]RefusalSummary)
	SummaryEvery time.Duration
	// Log receives a line per refusal; slog.Default() by default.
	Log *slog.Logger
	// Origin, if set, serves the requests that are not proxy requests
	// (neither CONNECT nor an absolute URI), without the proxy's
	// credentials: Warder's LLM gateway, on the one address agents on
	// the internal network reach. nil answers them 400.
	Origin http.Handler
}

func (c *Config) defaults() {
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.MaxConnsPerAgent <= 0 {
		c.MaxConnsPerAgent = 64
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 10 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.SNIPorts == nil {
		c.SNIPorts = []uint16{443}
	}
	if c.SummaryEvery <= 0 {
		c.SummaryEvery = time.Minute
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Proxy is the egress proxy: an http.Handler for absolute-URI HTTP
// requests and CONNECT. Safe for concurrent use.
type Proxy struct {
	cfg   Config
	stats stats
	audit audit

	mu      sync.Mutex
	open    map[string]int        // upstream connections per agent
	tunnels map[net.Conn]struct{} // hijacked, closed at shutdown
	closed  bool
}

// New returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Agents == nil {
		return nil, errors.New("egress: Config.Agents is required")
	}
	cfg.defaults()
	return &Proxy{cfg: cfg, open: map[string]int{}, tunnels: map[net.Conn]struct{}{}}, nil
}

// ServeHTTP serves one proxy request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.cfg.Origin != nil && r.Method != http.MethodConnect && !r.URL.IsAbs() {
		p.cfg.Origin.ServeHTTP(w, r)
		return
	}
	g, ok := p.authenticate(r)
	if !ok {
		p.refused(r.Context(), "", r.Host, refuse(ReasonUnauthenticated, "proxy credentials missing or wrong"))
		w.Header().Set("Proxy-Authenticate", `Basic realm="warder egress"`)
		http.Error(w, "warder egress: proxy credentials missing or wrong (use the HTTP_PROXY you were given)", http.StatusProxyAuthRequired)
		return
	}
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r, g)
	case r.URL.IsAbs():
		p.forward(w, r, g)
	default:
		p.refused(r.Context(), g.Agent, r.Host, refuse(ReasonBadRequest, "not a proxy request"))
		http.Error(w, "warder egress: this is a forward proxy; send absolute-URI requests or CONNECT", http.StatusBadRequest)
	}
}

// dummyHash is compared against when the agent is unknown, so a wrong
// agent name costs the same as a wrong token.
var dummyHash = HashToken("warder: no such agent")

// authenticate reads Proxy-Authorization (Basic, agent id and token) and
// checks the token against the agent's grant in constant time.
func (p *Proxy) authenticate(r *http.Request) (Grant, bool) {
	user, token, ok := proxyBasicAuth(r.Header.Get("Proxy-Authorization"))
	if !ok || user == "" || len(user) > 256 {
		return Grant{}, false
	}
	g, err := p.cfg.Agents.EgressGrant(r.Context(), user)
	want := g.TokenHash
	if err != nil {
		want = dummyHash
	}
	got := HashToken(token)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || err != nil {
		return Grant{}, false
	}
	return g, true
}

// proxyBasicAuth parses a Basic credential, as Request.BasicAuth does
// for Authorization.
func proxyBasicAuth(h string) (user, pass string, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

// acquire takes one of the agent's connection slots.
func (p *Proxy) acquire(agent string) *Refusal {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[agent] >= p.cfg.MaxConnsPerAgent {
		return refuse(ReasonLimit, "this agent has %d connections open through the proxy, its limit", p.cfg.MaxConnsPerAgent)
	}
	p.open[agent]++
	p.stats.open.Add(1)
	return nil
}

func (p *Proxy) release(agent string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[agent]--; p.open[agent] <= 0 {
		delete(p.open, agent)
	}
	p.stats.open.Add(-1)
}

// track registers a hijacked connection for Close; false once closed.
func (p *Proxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.tunnels, c)
		return true
	}
	if p.closed {
		return false
	}
	p.tunnels[c] = struct{}{}
	return true
}

// CloseTunnels cuts every open tunnel (http.Server.Shutdown does not
// know hijacked connections) and refuses new ones.
func (p *Proxy) CloseTunnels() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for c := range p.tunnels {
		c.Close()
	}
}
