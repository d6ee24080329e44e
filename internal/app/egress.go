package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/egress"
	"github.com/warder/warder/internal/connlimit"
	"github.com/warder/warder/metrics"
	"github.com/warder/warder/secret"
)

// The egress proxy's settings (docs/egress.md). Agents whose
// container_config.egress is a list sit on the internal network and
// reach the outside only through the proxy, which runs in this process.
const (
	// egressProxyPort is the port of WARDER_EGRESS_PROXY=auto, on the
	// internal network's gateway address.
	egressProxyPort = 3128
	// egressGrantTTL is how long a grant (or a refusal) is kept: a
	// deleted agent, a disabled owner or a changed list takes effect
	// within it, on every replica.
	egressGrantTTL = 5 * time.Second
	egressGrants   = 10000
)

// loadEgress reads WARDER_EGRESS_DEFAULT, WARDER_EGRESS_CEILING and
// WARDER_EGRESS_PROXY.
func (c *Config) loadEgress() {
	if v := env("WARDER_EGRESS_DEFAULT", ""); v != "" {
		c.EgressDefault = splitEgress(v)
	}
	if v := env("WARDER_EGRESS_CEILING", ""); v != "" {
		c.EgressCeiling = splitEgress(v)
	}
	c.EgressProxy = env("WARDER_EGRESS_PROXY", "auto")
}

func splitEgress(v string) []string {
	out := []string{}
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// egressOperator is the operator's default and ceiling: the ceiling is
// "all" unless set (or "none" with WARDER_ALLOW_EGRESS=false); no default
// is the older meaning, the default network decides (and must then be
// within the ceiling when it is "egress").
func (c *Config) egressOperator() (op egress.Operator, hasDefault bool, err error) {
	ceiling := c.EgressCeiling
	if ceiling == nil {
		ceiling = []string{warder.EgressAll}
		if !c.AllowEgress {
			ceiling = []string{warder.EgressNone}
		}
	}
	if op.Ceiling, err = egress.Parse(ceiling); err != nil {
		return op, false, fmt.Errorf("WARDER_EGRESS_CEILING: %s", warder.ErrorMessage(err))
	}
	def := c.EgressDefault
	if def == nil {
		def = []string{warder.EgressAll}
		if c.DefaultNetwork == warder.NetworkInternal {
			def = []string{warder.EgressNone}
		}
	}
	if op.Default, err = egress.Parse(def); err != nil {
		return op, false, fmt.Errorf("WARDER_EGRESS_DEFAULT: %s", warder.ErrorMessage(err))
	}
	if err := op.Validate(); err != nil {
		return op, false, fmt.Errorf("WARDER_EGRESS_DEFAULT (or WARDER_DEFAULT_NETWORK=egress, which is \"all\") must be within WARDER_EGRESS_CEILING: %s", warder.ErrorMessage(err))
	}
	if op.Default.IsAll() && !c.AllowEgress {
		return op, false, fmt.Errorf(`WARDER_EGRESS_DEFAULT=all needs WARDER_ALLOW_EGRESS=true`)
	}
	return op, c.EgressDefault != nil, nil
}

// validateEgress checks the egress settings.
func (c *Config) validateEgress() error {
	if _, _, err := c.egressOperator(); err != nil {
		return err
	}
	switch c.EgressProxy {
	case "", "auto", "off":
		return nil
	}
	ap, err := netip.ParseAddrPort(c.EgressProxy)
	if err != nil || ap.Port() == 0 {
		return fmt.Errorf("WARDER_EGRESS_PROXY %q must be auto, off or IP:PORT (an address only agents reach)", c.EgressProxy)
	}
	if ap.Addr().IsUnspecified() {
		return fmt.Errorf("WARDER_EGRESS_PROXY %q: the proxy must listen where only agents reach it, never on every address", c.EgressProxy)
	}
	return nil
}

// egressHub is the egress proxy with what Warder needs around it: the
// operator's policy (service.EgressLists), agents' credentials (a token
// derived from the secret key and the agent's id: nothing new is
// stored), the store lookup behind the proxy (egress.Agents) and the
// audit of its refusals.
type egressHub struct {
	op         egress.Operator
	hasDefault bool
	mode       string // auto, off, or IP:PORT
	key        []byte // HMAC key of agents' proxy tokens
	store      warder.Store
	log        *slog.Logger
	proxy      *egress.Proxy
	addr       atomic.Pointer[string] // host:port agents are given, once known
	// unsupported is set once the runtime says it can give no address
	// (Podman): starts of agents with a list then fail saying so.
	unsupported atomic.Bool
	// direct, if set, names a host agents with a list reach without the
	// proxy (NO_PROXY), given the proxy's address: the LLM gateway's.
	direct func(proxyAddr string) string
}

// newEgress wires the proxy; it listens only once run finds its address.
// origin, if set, serves what agents ask of the proxy's address that is
// not a proxy request (the LLM gateway, llm.go).
func newEgress(cfg Config, rt Backend, store warder.Store, m *metrics.Metrics, log *slog.Logger, origin http.Handler) (*egressHub, error) {
	op, hasDefault, err := cfg.egressOperator()
	if err != nil {
		return nil, err
	}
	mode := cmpOr(cfg.EgressProxy, "auto")
	if _, ok := rt.(gatewayer); mode == "auto" && !ok {
		mode = "off" // Kubernetes (docs/kubernetes.md, "Egress lists"), or a test's fake
	}
	h := &egressHub{op: op, hasDefault: hasDefault, mode: mode, store: store, log: log}
	if mode == "off" {
		return h, nil
	}
	if h.key, err = egressKey(cfg); err != nil {
		return nil, err
	}
	h.proxy, err = egress.New(egress.Config{
		Agents:       egress.CachedAgents(h, egressGrantTTL, egressGrants),
		Resolver:     cfg.EgressResolver, // nil in production: the system's
		Summary:      h.audit,
		SummaryEvery: cfg.EgressSummaryEvery,
		Log:          log,
		Origin:       origin,
	})
	if err != nil {
		return nil, err
	}
	m.WatchEgress(h.counts)
	return h, nil
}

// egressProxyAddr is the address WARDER_EGRESS_PROXY=IP:PORT names; the
// zero value for auto, off or anything else.
func egressProxyAddr(mode string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(mode)
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// egressKey is the key agents' proxy tokens are derived with: an HMAC of
// the secret key (WARDER_SECRET_KEY or the data directory's key file),
// so every replica derives the same tokens and none is stored.
func egressKey(cfg Config) ([]byte, error) {
	return derivedKey(cfg, "warder egress proxy tokens v1")
}

// derivedKey is a key for one purpose, an HMAC of the secret key
// (WARDER_SECRET_KEY or the data directory's key file) and the purpose's
// name: the same on every replica, and never the secret key itself.
func derivedKey(cfg Config, purpose string) ([]byte, error) {
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		key, err = secret.ParseKey(cfg.SecretKey)
	} else {
		key, err = secret.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err != nil {
		return nil, fmt.Errorf("WARDER_SECRET_KEY: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	return mac.Sum(nil), nil
}

// token is the agent's proxy password.
func (h *egressHub) token(agentID string) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(agentID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Check is service.EgressLists.Check.
func (h *egressHub) Check(entries []string) ([]string, error) {
	p, err := egress.Parse(entries)
	if err != nil {
		return nil, err
	}
	if err := p.Within(h.op.Ceiling); err != nil {
		return nil, err
	}
	return p.Entries(), nil
}

// Effective is service.EgressLists.Effective.
func (h *egressHub) Effective(entries []string) []string { return h.effective(entries).Entries() }

// effective is the agent's list less the entries the ceiling does not
// allow (the ceiling may have been lowered since the list was set).
func (h *egressHub) effective(entries []string) egress.Policy {
	p, err := egress.Parse(entries)
	if err != nil {
		return egress.None
	}
	if p.Within(h.op.Ceiling) == nil {
		return p
	}
	var kept []string
	for _, r := range p.Rules() {
		if egress.MustParse(r.String()).Within(h.op.Ceiling) == nil {
			kept = append(kept, r.String())
		}
	}
	if len(kept) == 0 {
		return egress.None
	}
	return egress.MustParse(kept...)
}

// Default is service.EgressLists.Default.
func (h *egressHub) Default() []string {
	if !h.hasDefault {
		return nil
	}
	return h.op.Default.Entries()
}

// Proxied is service.EgressLists.Proxied.
func (h *egressHub) Proxied() bool { return h.proxy != nil }

// env is warder.SpecSettings.EgressProxy: the proxy URL with the agent's
// credentials, for every client's spelling of the variables. Loopback
// and the LLM gateway's host (when it has one) are reached directly.
func (h *egressHub) env(agentID string) (map[string]string, error) {
	addr, err := h.address()
	if err != nil {
		return nil, err
	}
	u := (&url.URL{Scheme: "http", User: url.UserPassword(agentID, h.token(agentID)), Host: addr}).String()
	direct := "localhost,127.0.0.1,::1"
	if h.direct != nil {
		if host := h.direct(addr); host != "" {
			direct += "," + host
		}
	}
	return map[string]string{
		"HTTP_PROXY": u, "HTTPS_PROXY": u, "http_proxy": u, "https_proxy": u,
		"NO_PROXY": direct, "no_proxy": direct,
	}, nil
}

// address is where agents reach the proxy (host:port), waiting a moment
// for it just after Warder started; ErrNotSupported where the runtime
// has no address for it (Podman), ErrUnavailable while it has none yet.
func (h *egressHub) address() (string, error) {
	addr := h.addr.Load()
	if h.unsupported.Load() {
		return "", warder.Errorf(warder.ErrNotSupported, "this deployment's runtime has no egress proxy (docs/egress.md): give the agent \"none\" or \"all\"")
	}
	for wait := 0; h.proxy != nil && addr == nil && wait < 50; wait++ {
		// Just after Warder started, the proxy waits for Setup's network:
		// a start then waits for it a moment rather than fail.
		time.Sleep(100 * time.Millisecond)
		addr = h.addr.Load()
	}
	if h.proxy == nil || addr == nil {
		return "", warder.Errorf(warder.ErrUnavailable, "the egress proxy is not running yet (it starts once the runtime's internal network is ready); try again shortly")
	}
	return *addr, nil
}

// EgressGrant is egress.Agents: the agent's grant, while it exists, has
// a list and its owner is enabled. Errors all look alike to the agent.
func (h *egressHub) EgressGrant(ctx context.Context, agentID string) (egress.Grant, error) {
	a, err := h.store.Agent(ctx, agentID)
	if err != nil {
		return egress.Grant{}, err
	}
	if !a.ContainerConfig.Egress.Listed() {
		return egress.Grant{}, warder.Errorf(warder.ErrForbidden, "agent %s has no egress list", agentID)
	}
	owner, err := h.store.UserByID(ctx, a.UserID)
	if err != nil {
		return egress.Grant{}, err
	}
	if owner.Disabled {
		return egress.Grant{}, warder.Errorf(warder.ErrForbidden, "agent %s's owner is disabled", agentID)
	}
	return egress.Grant{Agent: a.ID, TokenHash: egress.HashToken(h.token(a.ID)), Policy: h.effective(a.ContainerConfig.Egress)}, nil
}

// audit writes the proxy's refusal summaries, one audit entry per agent,
// destination and reason per period, under the agent's owner.
func (h *egressHub) audit(sums []egress.RefusalSummary) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owners := map[string]*warder.Agent{}
	for _, s := range sums {
		e := warder.EgressAuditEntry(warder.EgressRefusal{Destination: s.Destination, Reason: string(s.Reason), Count: s.Count, Last: s.Last, Detail: s.Detail}, s.First, refusalStatus(s.Reason))
		if s.Agent != "" {
			a, ok := owners[s.Agent]
			if !ok {
				a, _ = h.store.Agent(ctx, s.Agent) // gone since: recorded without an owner
				owners[s.Agent] = a
			}
			e.AgentID = s.Agent
			if a != nil {
				e.UserID = a.UserID
				if u, err := h.store.UserByID(ctx, a.UserID); err == nil {
					e.Username = u.Username
				}
			}
		}
		if err := h.store.RecordAudit(ctx, e); err != nil {
			h.log.Error("recording egress refusals", "agent", s.Agent, "err", err)
		}
	}
}

func refusalStatus(r egress.Reason) int {
	switch r {
	case egress.ReasonUnauthenticated:
		return http.StatusProxyAuthRequired
	case egress.ReasonLimit:
		return http.StatusTooManyRequests
	case egress.ReasonBadRequest:
		return http.StatusBadRequest
	case egress.ReasonUnresolvable:
		return http.StatusBadGateway
	}
	return http.StatusForbidden
}

func (h *egressHub) counts() metrics.Egress {
	st := h.proxy.Stats()
	out := metrics.Egress{Open: st.Open, Allowed: st.Allowed, UpstreamFailed: st.UpstreamFailed, Refused: map[string]uint64{}}
	for r, n := range st.Refused {
		out.Refused[string(r)] = n
	}
	return out
}

// gatewayer is the Docker runtime's InternalGateway.
type gatewayer interface {
	InternalGateway(ctx context.Context) (netip.Addr, error)
}

// run serves the proxy until ctx ends: it finds its address (the
// internal network's gateway, once Setup has made the network), listens
// there, and serves; a listen that fails (another replica on this host
// holds the address, or Warder is not on the Docker host) is retried,
// so a replica takes over when the one serving goes.
func (h *egressHub) run(ctx context.Context, rt Backend) {
	if h.proxy == nil {
		return
	}
	delay, said := time.Second, ""
	for ctx.Err() == nil {
		err := h.serveOnce(ctx, rt)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, warder.ErrNotSupported) {
			h.log.Warn("no egress proxy: agents with an egress list cannot start", "err", err)
			h.unsupported.Store(true)
			return
		}
		level := slog.LevelWarn
		if err != nil && err.Error() == said {
			level = slog.LevelDebug // said already: not every 30 s
		}
		if err != nil {
			said = err.Error()
		}
		h.log.Log(ctx, level, "egress proxy not serving; retrying (WARDER_EGRESS_PROXY=off turns it off, IP:PORT names its address)", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if errors.Is(err, warder.ErrUnavailable) && h.addr.Load() == nil {
			// Not serving yet because Setup has not made the network (or
			// the engine is not up): that ends soon, and agents with a
			// list cannot start until then, so look again soon.
			delay = 500 * time.Millisecond
			continue
		}
		delay = min(delay*2, 30*time.Second)
	}
}

func (h *egressHub) serveOnce(ctx context.Context, rt Backend) error {
	addr := h.mode
	if addr == "auto" {
		ip, err := rt.(gatewayer).InternalGateway(ctx)
		if err != nil {
			return err
		}
		addr = net.JoinHostPort(ip.String(), strconv.Itoa(egressProxyPort))
	}
	h.addr.Store(&addr) // agents may be given it even while another replica serves it
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	h.log.Info("egress proxy listening", "addr", addr)
	limited := connlimit.New(ln, connlimit.Limits{Total: 4096, PerAddress: 256}, h.log)
	return h.proxy.Serve(ctx, limited, 5*time.Second)
}
