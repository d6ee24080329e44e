// Package llmgateway is an OpenAI-compatible reverse proxy between agents
// and the model providers an operator configures: an agent presents a
// token of its own, the gateway adds the provider's key upstream (the
// key never reaches the agent), meters prompt and completion tokens from
// the provider's usage, and refuses a request before it leaves when the
// agent's or its user's budget is spent. Streams pass through as they
// arrive. See docs/egress.md.
package llmgateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
)

// Caller is who a gateway token belongs to.
type Caller struct {
	Agent string // the agent's id
	User  string // its owner's id
}

// Tokens finds the caller of an agent's gateway token; any error refuses
// the request with 401. Warder's tokens are an HMAC of the agent's id,
// checked before the agent and its owner are looked up in the store
// (internal/app/llm.go): nothing is stored.
type Tokens interface {
	Caller(ctx context.Context, token string) (Caller, error)
}

// Usage is what one request cost, as its upstream reported it.
type Usage struct {
	Caller
	Upstream         string // the upstream's name
	Route            string // "chat/completions", "completions", "embeddings"
	Model            string // as the upstream named it, else as asked
	PromptTokens     int64
	CompletionTokens int64
	At               time.Time
}

// Ledger meters usage and keeps budgets: StoreLedger in the store (per
// agent and per user, per day and per month), MemLedger in memory.
type Ledger interface {
	// Allow returns nil when c may send another request, else an error
	// wrapping warder.ErrRateLimited (a *warder.RateLimitError says when
	// to retry) whose message says which budget is spent. Any other
	// error refuses the request too (503): budgets fail closed.
	Allow(ctx context.Context, c Caller) error
	// Record adds what a request cost. A request that crosses a budget
	// is recorded whole: it finished, and the next one is refused.
	Record(ctx context.Context, u Usage) error
}

// Upstream is one model provider.
type Upstream struct {
	// Name is how logs and usage name it.
	Name string
	// BaseURL is its OpenAI-compatible API, up to and including the
	// version, e.g. "https://api.openai.com/v1".
	BaseURL string
	// Key is sent upstream as "Authorization: Bearer <Key>"; empty for
	// an upstream that takes none.
	Key string
	// Models, when set, are the models sent here; the first upstream
	// takes every other model, and answers GET /v1/models.
	Models []string
}

// Config configures a Gateway. Zero durations and sizes take the
// defaults noted.
type Config struct {
	Upstreams []Upstream // at least one; the first is the default
	Tokens    Tokens     // required
	Ledger    Ledger     // required
	// Transport reaches the upstreams; a tuned http.Transport by default.
	Transport http.RoundTripper
	// MaxRequestBytes bounds a request body (16 MiB; 413 past it).
	MaxRequestBytes int64
	// MaxResponseBytes bounds a non-streamed answer (32 MiB);
	// MaxStreamBytes a streamed one (256 MiB). Past them the answer is
	// cut off and the caller told so.
	MaxResponseBytes, MaxStreamBytes int64
	// HeaderTimeout bounds the wait for the upstream's response header
	// (10 min: a long non-streamed answer comes whole, after thinking).
	HeaderTimeout time.Duration
	// IdleTimeout bounds a pause in the upstream's body (2 min).
	IdleTimeout time.Duration
	// Log receives failures and unmetered answers; slog.Default() by default.
	Log *slog.Logger
}

// Gateway is the http.Handler; mount it where agents' OPENAI_BASE_URL
// points, less the "/v1" (it serves /v1/...). Safe for concurrent use.
type Gateway struct {
	cfg   Config
	ups   []*upstream
	mux   *http.ServeMux
	stats stats
}

type upstream struct {
	Upstream
	base *url.URL
}

// New checks cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if len(cfg.Upstreams) == 0 || cfg.Tokens == nil || cfg.Ledger == nil {
		return nil, errors.New("llmgateway: Upstreams, Tokens and Ledger are required")
	}
	cfg.defaults()
	g := &Gateway{cfg: cfg, mux: http.NewServeMux()}
	for _, u := range cfg.Upstreams {
		base, err := url.Parse(strings.TrimSuffix(u.BaseURL, "/"))
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return nil, fmt.Errorf("llmgateway: upstream %q: base URL %q is not an http(s) URL", u.Name, u.BaseURL)
		}
		g.ups = append(g.ups, &upstream{Upstream: u, base: base})
	}
	g.mux.HandleFunc("POST /v1/chat/completions", g.metered("chat/completions"))
	g.mux.HandleFunc("POST /v1/completions", g.metered("completions"))
	g.mux.HandleFunc("POST /v1/embeddings", g.metered("embeddings"))
	g.mux.HandleFunc("GET /v1/models", g.models)
	g.mux.HandleFunc("GET /v1/models/{model...}", g.models)
	g.mux.HandleFunc("/", notFound)
	return g, nil
}

func (c *Config) defaults() {
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 16 << 20
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 32 << 20
	}
	if c.MaxStreamBytes <= 0 {
		c.MaxStreamBytes = 256 << 20
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = 10 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Transport == nil {
		c.Transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: c.HeaderTimeout,
		}
	}
}

// ServeHTTP authenticates the caller and routes the request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// caller reads the bearer token.
func (g *Gateway) caller(r *http.Request) (Caller, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" || len(token) > 512 {
		return Caller{}, warder.Errorf(warder.ErrUnauthorized, "a gateway token is required (Authorization: Bearer $OPENAI_API_KEY)")
	}
	c, err := g.cfg.Tokens.Caller(r.Context(), token)
	if err != nil {
		return Caller{}, warder.Errorf(warder.ErrUnauthorized, "this gateway token is not valid (revoked with its agent?)")
	}
	return c, nil
}

// route picks the upstream for model.
func (g *Gateway) route(model string) *upstream {
	for _, u := range g.ups {
		for _, m := range u.Models {
			if m == model {
				return u
			}
		}
	}
	return g.ups[0]
}

// Stats are the gateway's counts since it started, for /metrics.
type Stats struct {
	Requests         uint64 // forwarded upstream
	Refused          uint64 // 401, 429 and 503 (budgets unavailable) before forwarding
	Unauthorized     uint64 // of Refused, 401
	OverBudget       uint64 // of Refused, 429
	UpstreamFailed   uint64 // unreachable, errors at transport level, cut off
	Unmetered        uint64 // answers with no usage to meter
	PromptTokens     uint64
	CompletionTokens uint64
}

type stats struct {
	requests, refused, unauthorized, overBudget, upstreamFailed, unmetered, prompt, completion atomic.Uint64
}

// Stats returns the gateway's counts.
func (g *Gateway) Stats() Stats {
	s := &g.stats
	return Stats{s.requests.Load(), s.refused.Load(), s.unauthorized.Load(), s.overBudget.Load(), s.upstreamFailed.Load(),
		s.unmetered.Load(), s.prompt.Load(), s.completion.Load()}
}
