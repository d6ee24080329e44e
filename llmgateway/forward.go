package llmgateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
)

// exchange is one request on its way through the gateway.
type exchange struct {
	caller    Caller
	route     string
	model     string
	up        *upstream
	stream    bool
	wantUsage bool // the caller asked for usage in its stream itself
}

// metered serves a route whose answers carry usage: authenticate, read
// and check the body, ask for usage in streams, check the budgets, then
// forward and meter.
func (g *Gateway) metered(route string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := g.caller(r)
		if err != nil {
			g.stats.refused.Add(1)
			g.stats.unauthorized.Add(1)
			writeError(w, err)
			return
		}
		body, ex, err := g.readBody(w, r, route)
		if err != nil {
			writeError(w, err)
			return
		}
		ex.caller = c
		if err := g.cfg.Ledger.Allow(r.Context(), c); err != nil {
			g.stats.refused.Add(1)
			if errors.Is(err, warder.ErrRateLimited) {
				g.stats.overBudget.Add(1)
			} else {
				g.cfg.Log.Error("llmgateway: checking budgets", "agent", c.Agent, "err", err)
				err = warder.Errorf(warder.ErrUnavailable, "the token budget cannot be checked right now; try again")
			}
			writeError(w, err)
			return
		}
		g.forward(w, r, ex, http.MethodPost, "/"+route, body)
	}
}

// readBody reads the bounded JSON body and, for a stream, makes sure it
// asks for usage (stream_options.include_usage), remembering whether the
// caller asked itself.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, route string) ([]byte, *exchange, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, warder.Errorf(warder.ErrTooLarge, "the request body is over %d bytes", g.cfg.MaxRequestBytes)
		}
		return nil, nil, warder.Errorf(warder.ErrInvalid, "the request body could not be read")
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		return nil, nil, warder.Errorf(warder.ErrInvalid, "the request body is not a JSON object")
	}
	ex := &exchange{route: route}
	if err := json.Unmarshal(req["model"], &ex.model); err != nil || ex.model == "" {
		return nil, nil, warder.Errorf(warder.ErrInvalid, `"model" is required`)
	}
	if s, ok := req["stream"]; ok && route != "embeddings" {
		_ = json.Unmarshal(s, &ex.stream)
	}
	ex.up = g.route(ex.model)
	if !ex.stream {
		return body, ex, nil
	}
	opts := map[string]json.RawMessage{}
	if raw, ok := req["stream_options"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &opts); err != nil {
			return nil, nil, warder.Errorf(warder.ErrInvalid, `"stream_options" must be an object`)
		}
	}
	_ = json.Unmarshal(opts["include_usage"], &ex.wantUsage)
	if ex.wantUsage {
		return body, ex, nil
	}
	opts["include_usage"] = json.RawMessage("true")
	req["stream_options"], _ = json.Marshal(opts)
	body, err = json.Marshal(req)
	return body, ex, err
}

// forward sends the request upstream with the upstream's key and passes
// the answer back: a stream as it comes, anything else whole once read.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, ex *exchange, method, path string, body []byte) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ex.up.base.String()+path, bytes.NewReader(body))
	if err != nil {
		writeError(w, err)
		return
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a := r.Header.Get("Accept"); a != "" {
		req.Header.Set("Accept", a)
	}
	if ex.up.Key != "" {
		req.Header.Set("Authorization", "Bearer "+ex.up.Key)
	}
	g.stats.requests.Add(1)
	start := time.Now()
	resp, err := g.cfg.Transport.RoundTrip(req) // no redirects followed: the key goes to the base URL only
	if err != nil {
		g.upstreamFailed(w, r, ex, err, start)
		return
	}
	defer resp.Body.Close()
	idle := newIdleBody(resp.Body, g.cfg.IdleTimeout, cancel)
	defer idle.stop()
	if ex.stream && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		g.passStream(w, resp, idle, ex)
		return
	}
	g.passWhole(w, resp, idle, ex)
}

// upstreamFailed answers 502 for an upstream that could not be asked.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, ex *exchange, err error, start time.Time) {
	if r.Context().Err() != nil {
		return // the caller went away
	}
	g.stats.upstreamFailed.Add(1)
	g.cfg.Log.Warn("llmgateway: upstream failed", "upstream", ex.up.Name, "agent", ex.caller.Agent, "after", time.Since(start).Round(time.Millisecond), "err", err)
	msg := "the model provider " + ex.up.Name + " could not be reached"
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		msg = "the model provider " + ex.up.Name + " did not answer within " + g.cfg.HeaderTimeout.String()
	}
	writeError(w, warder.Errorf(warder.ErrBadGateway, "%s", msg))
}

// models serves GET /v1/models and /v1/models/{model}: authenticated,
// not metered, passed through whole.
func (g *Gateway) models(w http.ResponseWriter, r *http.Request) {
	c, err := g.caller(r)
	if err != nil {
		g.stats.refused.Add(1)
		g.stats.unauthorized.Add(1)
		writeError(w, err)
		return
	}
	model := r.PathValue("model")
	ex := &exchange{caller: c, route: "models", model: model, up: g.route(model)}
	path := "/models"
	if model != "" {
		path += "/" + model
	}
	g.forward(w, r, ex, http.MethodGet, path, nil)
}

// idleBody cancels the upstream request when its body pauses for idle.
type idleBody struct {
	r     io.Reader
	idle  time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func newIdleBody(r io.Reader, idle time.Duration, cancel context.CancelFunc) *idleBody {
	b := &idleBody{r: r, idle: idle}
	b.t = time.AfterFunc(idle, func() { b.fired.Store(true); cancel() })
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.t.Reset(b.idle)
	}
	return n, err
}

func (b *idleBody) stop() { b.t.Stop() }

// cutReason says why reading the upstream's body failed.
func (g *Gateway) cutReason(ex *exchange, idle *idleBody, err error) string {
	if idle.fired.Load() {
		return "the model provider " + ex.up.Name + " sent nothing for " + g.cfg.IdleTimeout.String() + "; its answer was cut off"
	}
	return "the model provider " + ex.up.Name + " broke off its answer"
}
