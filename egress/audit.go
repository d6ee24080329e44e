package egress

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the proxy's counts since it started, for /metrics.
type Stats struct {
	// Open is the upstream connections open now (tunnels and requests).
	Open int
	// Allowed counts the tunnels and requests let through.
	Allowed uint64
	// UpstreamFailed counts allowed destinations that could not be
	// reached or broke off (answered 502).
	UpstreamFailed uint64
	// Refused counts refusals by reason; every Reason has an entry.
	Refused map[Reason]uint64
}

type stats struct {
	open           atomic.Int64
	allowed        atomic.Uint64
	upstreamFailed atomic.Uint64
	refused        [8]atomic.Uint64 // by index in Reasons
}

// Stats returns the proxy's counts.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Open:           int(p.stats.open.Load()),
		Allowed:        p.stats.allowed.Load(),
		UpstreamFailed: p.stats.upstreamFailed.Load(),
		Refused:        make(map[Reason]uint64, len(Reasons)),
	}
	for i, r := range Reasons {
		s.Refused[r] = p.stats.refused[i].Load()
	}
	return s
}

// RefusalSummary is the refusals of one agent, destination and reason
// within one summary period: what the audit log keeps, rather than a
// row per connection.
type RefusalSummary struct {
	Agent       string // "" for unauthenticated requests
	Destination string // host:port as asked, or "(others)" past the summary's bound
	Reason      Reason
	Count       uint64
	First, Last time.Time
	Detail      string // the last refusal's
}

// maxSummaryKeys bounds the refusals kept between two summaries; more
// distinct destinations are counted under "(others)" per agent and reason.
const maxSummaryKeys = 4096

type auditKey struct {
	agent, dest string
	reason      Reason
}

type audit struct {
	mu sync.Mutex
	m  map[auditKey]*RefusalSummary
}

func (a *audit) add(agent, dest string, r *Refusal, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[auditKey]*RefusalSummary{}
	}
	k := auditKey{agent, dest, r.Reason}
	s, ok := a.m[k]
	if !ok && len(a.m) >= maxSummaryKeys {
		k.dest = "(others)"
		s, ok = a.m[k]
	}
	if !ok {
		s = &RefusalSummary{Agent: agent, Destination: k.dest, Reason: r.Reason, First: now}
		a.m[k] = s
	}
	s.Count++
	s.Last = now
	s.Detail = r.Detail
}

// TakeSummary returns the refusals aggregated since the last call, in
// order of agent, destination and reason, and starts afresh. Serve calls
// it for Config.Summary; a caller of ServeHTTP alone may call it itself.
func (p *Proxy) TakeSummary() []RefusalSummary {
	p.audit.mu.Lock()
	m := p.audit.m
	p.audit.m = nil
	p.audit.mu.Unlock()
	out := make([]RefusalSummary, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b RefusalSummary) int {
		return strings.Compare(a.Agent+"\x00"+a.Destination+"\x00"+string(a.Reason), b.Agent+"\x00"+b.Destination+"\x00"+string(b.Reason))
	})
	return out
}

// refused logs, counts and aggregates a refusal.
func (p *Proxy) refused(ctx context.Context, agent, dest string, r *Refusal) {
	if len(dest) > 260 {
		dest = dest[:260]
	}
	if i := slices.Index(Reasons, r.Reason); i >= 0 {
		p.stats.refused[i].Add(1)
	}
	p.cfg.Log.InfoContext(ctx, "egress refused", "agent", agent, "destination", dest, "reason", string(r.Reason), "detail", r.Detail)
	p.audit.add(agent, dest, r, time.Now())
}

// fail answers a request that was refused (a *Refusal) or whose allowed
// destination could not be reached.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, g Grant, dest string, err error) {
	var rf *Refusal
	if !errors.As(err, &rf) {
		p.upstreamFailed(w, g, dest, err)
		return
	}
	p.refused(r.Context(), g.Agent, dest, rf)
	status := http.StatusForbidden
	switch rf.Reason {
	case ReasonLimit:
		status = http.StatusTooManyRequests
	case ReasonBadRequest:
		status = http.StatusBadRequest
	case ReasonUnresolvable:
		status = http.StatusBadGateway
	}
	http.Error(w, "warder egress: "+rf.Detail, status)
}
