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
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/api"
	"github.com/warder/warder/llmgateway"
	"github.com/warder/warder/metrics"
	"github.com/warder/warder/service"
)

// The LLM gateway (docs/egress.md, "The LLM gateway"): with an upstream
// configured, every agent gets OPENAI_BASE_URL (the gateway) and
// OPENAI_API_KEY (a token of its own); the gateway adds the upstream's
// key, meters tokens into the store and enforces the budgets.

// llmTokenPrefix starts every gateway token, so one is told at a glance
// from a provider's key.
const llmTokenPrefix = "wllm."

// llmHub is the gateway with what Warder needs around it: agents' tokens
// (an HMAC of the agent's id: nothing is stored), the address agents are
// given, the store-backed ledger and the audit of its refusals.
type llmHub struct {
	key     []byte // HMAC key of gateway tokens; nil: no gateway
	url     string // the base URL agents are given; "": the egress proxy's address
	eg      *egressHub
	gateway atomic.Pointer[llmgateway.Gateway]
	llm     *service.LLM
	ledger  *auditedLedger
	log     *slog.Logger
	warned  atomic.Bool
}

// newLLMHub reads the gateway's settings; wire finishes it once the
// service exists. Without upstreams it is off: agents get nothing and
// /llm/ is a 404.
func newLLMHub(cfg Config, log *slog.Logger) (*llmHub, error) {
	h := &llmHub{log: log}
	if len(cfg.LLMUpstreams) == 0 {
		return h, nil
	}
	var err error
	if h.key, err = derivedKey(cfg, "warder llm gateway tokens v1"); err != nil {
		return nil, err
	}
	if u := cfg.LLMGatewayURL; u != "" && u != "auto" {
		h.url = strings.TrimSuffix(strings.TrimSuffix(u, "/"), "/v1") // Warder's /llm, or its /llm/v1
	}
	return h, nil
}

// on reports whether an operator configured an upstream.
func (h *llmHub) on() bool { return h.key != nil }

// useEgress gives the hub the egress proxy, whose address is the
// gateway's for agents when no URL is set (and whose agents with a list
// must reach the gateway directly, not through the proxy).
func (h *llmHub) useEgress(eg *egressHub) error {
	h.eg = eg
	if !h.on() {
		return nil
	}
	if h.url == "" && eg.proxy == nil {
		return errors.New("WARDER_LLM_GATEWAY_URL: this deployment has no egress proxy, whose address agents would reach the LLM gateway at; set it to a URL agents reach Warder's /llm/v1 at")
	}
	eg.direct = func(proxyAddr string) string {
		if h.url == "" {
			host, _, _ := net.SplitHostPort(proxyAddr)
			return host
		}
		if u, err := url.Parse(h.url); err == nil {
			return u.Hostname()
		}
		return ""
	}
	return nil
}

// wire makes the gateway: upstreams from cfg, tokens checked here and
// their callers looked up by the service, usage and budgets in store.
func (h *llmHub) wire(cfg Config, llm *service.LLM, store llmgateway.UsageStore, m *metrics.Metrics) error {
	if !h.on() {
		return nil
	}
	h.llm = llm
	h.ledger = newAuditedLedger(&llmgateway.StoreLedger{Store: store, Budgets: h.budgets}, cfg.LLMSummaryEvery)
	var ups []llmgateway.Upstream
	for _, u := range cfg.LLMUpstreams {
		ups = append(ups, llmgateway.Upstream{Name: u.Name, BaseURL: u.URL, Key: string(u.Key), Models: u.Models})
	}
	gw, err := llmgateway.New(llmgateway.Config{Upstreams: ups, Tokens: h, Ledger: h.ledger, Log: h.log})
	if err != nil {
		return err
	}
	h.gateway.Store(gw)
	m.WatchLLMGateway(func() metrics.LLMGateway {
		st := gw.Stats()
		return metrics.LLMGateway{Requests: st.Requests, Unauthorized: st.Unauthorized, OverBudget: st.OverBudget,
			UpstreamFailed: st.UpstreamFailed, Unmetered: st.Unmetered, PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens}
	})
	return nil
}

// handler is the gateway as the API mounts it (its /v1/... routes), nil
// when off.
func (h *llmHub) handler() http.Handler {
	if !h.on() {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw := h.gateway.Load()
		if gw == nil { // only between New's steps: wire runs before the API serves
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"detail":"the LLM gateway is starting"}`)
			return
		}
		gw.ServeHTTP(w, r)
	})
}

// origin serves what agents ask of the egress proxy's address that is
// not a proxy request: the gateway under /llm/, the API's 404 otherwise.
func (h *llmHub) origin() http.Handler {
	if !h.on() {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/llm/", http.StripPrefix("/llm", h.handler()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"detail":"this is Warder's egress proxy and LLM gateway (/llm/v1); nothing else is served here"}`)
	})
	return mux
}

// token is the agent's gateway token: wllm.<agent id>.<HMAC of the id>.
func (h *llmHub) token(agentID string) string {
	return llmTokenPrefix + agentID + "." + h.mac(agentID)
}

func (h *llmHub) mac(agentID string) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(agentID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Caller is llmgateway.Tokens: a token whose HMAC holds, of an agent
// that exists and whose owner is enabled (looked up at every request,
// so deleting the agent or disabling its owner revokes the token).
func (h *llmHub) Caller(ctx context.Context, token string) (llmgateway.Caller, error) {
	id, mac, ok := strings.Cut(strings.TrimPrefix(token, llmTokenPrefix), ".")
	if !ok || !strings.HasPrefix(token, llmTokenPrefix) || !hmac.Equal([]byte(mac), []byte(h.mac(id))) {
		return llmgateway.Caller{}, warder.Errorf(warder.ErrUnauthorized, "not a gateway token")
	}
	user, err := h.llm.Caller(ctx, id)
	if err != nil {
		return llmgateway.Caller{}, err
	}
	return llmgateway.Caller{Agent: id, User: user}, nil
}

// budgets is StoreLedger.Budgets: the user's limits, else the defaults.
func (h *llmHub) budgets(ctx context.Context, c llmgateway.Caller) (agent, user llmgateway.Budget, err error) {
	a, u, err := h.llm.Budgets(ctx, c.User)
	return llmgateway.Budget{PerDay: a.TokensPerDay, PerMonth: a.TokensPerMonth},
		llmgateway.Budget{PerDay: u.TokensPerDay, PerMonth: u.TokensPerMonth}, err
}

// env is warder.SpecSettings.LLMGateway: the gateway's URL and the
// agent's token. Where the gateway has no address agents reach (the
// egress proxy cannot run: Podman) agents get none, and a warning says
// so once.
func (h *llmHub) env(agentID string) (map[string]string, error) {
	base := h.url
	if base == "" {
		addr, err := h.eg.address()
		if errors.Is(err, warder.ErrNotSupported) {
			if !h.warned.Swap(true) {
				h.log.Warn("the LLM gateway has no address agents reach here (no egress proxy on this runtime): agents get no OPENAI_BASE_URL; set WARDER_LLM_GATEWAY_URL")
			}
			return nil, nil
		}
		if err != nil {
			return nil, warder.Errorf(warder.ErrUnavailable, "the LLM gateway's address is not known yet (it is the egress proxy's, which starts once the runtime's internal network is ready); try again shortly")
		}
		base = "http://" + addr + "/llm"
	}
	return map[string]string{"OPENAI_BASE_URL": base + "/v1", "OPENAI_API_KEY": h.token(agentID)}, nil
}

// run audits the ledger's refusals until ctx ends.
func (h *llmHub) run(ctx context.Context, store warder.Store) {
	if h.ledger != nil {
		h.ledger.run(ctx, store, h.log)
	}
}

// apiOptions adds the gateway and its usage routes to the API's options.
func (h *llmHub) apiOptions(o *api.Options, llm *service.LLM) {
	o.LLM = llm
	o.LLMGateway = h.handler()
}

// llmRefusalEvery is how often refusals are audited unless a test says.
const llmRefusalEvery = time.Minute
