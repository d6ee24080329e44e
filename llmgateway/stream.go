package llmgateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// hopHeaders are not passed back; Content-Length is set by whoever
// writes the body.
var hopHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Authenticate": true, "Content-Length": true, "Set-Cookie": true}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if !hopHeaders[k] {
			dst[k] = append([]string(nil), vs...)
		}
	}
}

// usageOf is the part of an answer (or a stream's chunk) that meters it.
type usageOf struct {
	Model   string           `json:"model"`
	Choices *json.RawMessage `json:"choices"`
	Usage   *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// passWhole reads a non-streamed answer (bounded by size and pauses),
// meters it, takes the upstream's key out of it should the upstream have
// echoed it, and writes it back.
func (g *Gateway) passWhole(w http.ResponseWriter, resp *http.Response, idle *idleBody, ex *exchange) {
	body, err := io.ReadAll(io.LimitReader(idle, g.cfg.MaxResponseBytes+1))
	switch {
	case err != nil:
		g.stats.upstreamFailed.Add(1)
		writeError(w, badGateway(g.cutReason(ex, idle, err)))
		return
	case int64(len(body)) > g.cfg.MaxResponseBytes:
		g.stats.upstreamFailed.Add(1)
		g.cfg.Log.Warn("llmgateway: answer over the bound, cut off", "upstream", ex.up.Name, "agent", ex.caller.Agent, "bound", g.cfg.MaxResponseBytes)
		writeError(w, badGateway(fmt.Sprintf("the model provider %s's answer is over %d bytes; it was cut off", ex.up.Name, g.cfg.MaxResponseBytes)))
		return
	}
	if ex.route != "models" && resp.StatusCode < 300 {
		var u usageOf
		_ = json.Unmarshal(body, &u)
		g.meter(ex, u)
	}
	if len(ex.up.Key) >= 8 {
		body = bytes.ReplaceAll(body, []byte(ex.up.Key), []byte("[redacted]"))
	}
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// maxLine is the longest stream line the gateway reads whole (to find
// usage in it); a longer one is passed through in pieces, unread.
const maxLine = 1 << 20

// passStream passes an event stream through as it comes, reading each
// "data:" line for usage. The usage chunk the gateway asked for is kept
// from a caller that did not ask for it (some clients read choices[0] of
// every chunk). Past MaxStreamBytes, or a pause of IdleTimeout, the
// stream ends with an error event.
//
// The upstream is read in a goroutine of its own, which hands what is to
// be passed on to this one (pending): each write to the caller takes
// all that has come meanwhile, then flushes. A stream whose caller keeps
// up goes out chunk by chunk, as it came; one that arrives faster than
// it can be sent (64 streams sharing two cores) goes out in fewer,
// larger writes instead of a write and a flush per line.
func (g *Gateway) passStream(w http.ResponseWriter, resp *http.Response, idle *idleBody, ex *exchange) {
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	p := newPending()
	var u usageOf
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer p.finish()
		g.readStream(resp, idle, ex, &u, p)
	}()
	var out []byte
	for {
		var ok bool
		if out, ok = p.take(out[:0]); !ok {
			break
		}
		if _, err := w.Write(out); err != nil {
			p.abandon() // the caller went away: the reader stops at its next line
			break
		}
		_ = rc.Flush()
	}
	<-read
	g.meter(ex, u)
}

// readStream reads the upstream's stream line by line into p, reading
// usage into u, until its end, an error, the bound, or p abandoned.
func (g *Gateway) readStream(resp *http.Response, idle *idleBody, ex *exchange, u *usageOf, p *pending) {
	br := bufio.NewReaderSize(idle, 64<<10)
	var (
		total     int64
		long      bool // inside a line longer than the buffer
		skipBlank bool // the usage chunk was dropped: drop its blank line too
	)
	for {
		line, err := br.ReadSlice('\n')
		total += int64(len(line))
		if total > g.cfg.MaxStreamBytes {
			g.stats.upstreamFailed.Add(1)
			g.cfg.Log.Warn("llmgateway: stream over the bound, cut off", "upstream", ex.up.Name, "agent", ex.caller.Agent, "bound", g.cfg.MaxStreamBytes)
			p.add(sseError(fmt.Sprintf("warder gateway: the model provider %s's stream is over %d bytes; it was cut off", ex.up.Name, g.cfg.MaxStreamBytes)))
			return
		}
		forward := true
		if !long && len(line) > 0 {
			drop := g.readStreamLine(line, ex, u)
			if skipBlank && isBlank(line) {
				forward, skipBlank = false, false
			} else if drop {
				forward, skipBlank = false, true
			}
		}
		long = errors.Is(err, bufio.ErrBufferFull)
		if forward && len(line) > 0 && !p.add(line) {
			return // the caller went away
		}
		if err != nil && !long {
			if !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) || idle.fired.Load() {
				g.stats.upstreamFailed.Add(1)
				p.add(sseError("warder gateway: " + g.cutReason(ex, idle, err)))
			}
			return
		}
	}
}

// pendingMax bounds what the reader may hold for a caller that is slow
// to take it: past it, the reader waits (and so does the upstream).
const pendingMax = 256 << 10

// pending is what a stream's reader has read and its writer not yet
// sent.
type pending struct {
	mu        sync.Mutex
	cond      sync.Cond
	buf       []byte
	done      bool // the reader has finished
	abandoned bool // the writer has stopped
}

func newPending() *pending {
	p := &pending{}
	p.cond.L = &p.mu
	return p
}

// add appends b (copied), waiting while pendingMax is held; false once
// the writer has stopped.
func (p *pending) add(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) >= pendingMax && !p.abandoned {
		p.cond.Wait()
	}
	if p.abandoned {
		return false
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return true
}

// take waits for something to send and returns it appended to into;
// false once the reader has finished and everything was taken.
func (p *pending) take(into []byte) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.done {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return into, false
	}
	into = append(into, p.buf...)
	p.buf = p.buf[:0]
	p.cond.Broadcast()
	return into, true
}

func (p *pending) finish() {
	p.mu.Lock()
	p.done = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pending) abandon() {
	p.mu.Lock()
	p.abandoned = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// readStreamLine reads usage from a "data:" line into u, and reports
// whether the line is the usage-only chunk a caller that did not ask for
// usage must not see.
func (g *Gateway) readStreamLine(line []byte, ex *exchange, u *usageOf) (drop bool) {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok || !hasUsage(data) {
		return false
	}
	var chunk usageOf
	if json.Unmarshal(bytes.TrimSpace(data), &chunk) != nil {
		return false
	}
	if chunk.Model != "" {
		u.Model = chunk.Model
	}
	if chunk.Usage == nil {
		return false
	}
	u.Usage = chunk.Usage
	empty := chunk.Choices == nil || bytes.Equal(bytes.TrimSpace(*chunk.Choices), []byte("[]"))
	return !ex.wantUsage && empty
}

// hasUsage reports whether a chunk may carry usage: a "usage" key whose
// value is an object. Every chunk of a stream asked for usage says
// "usage":null until the last; this spares decoding those.
func hasUsage(data []byte) bool {
	i := bytes.Index(data, []byte(`"usage"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(data[i+len(`"usage"`):], " \t")
	rest, ok := bytes.CutPrefix(rest, []byte(":"))
	return ok && bytes.HasPrefix(bytes.TrimLeft(rest, " \t"), []byte("{"))
}

func isBlank(line []byte) bool { return len(bytes.TrimRight(line, "\r\n")) == 0 }

// meter records what the answer said it cost.
func (g *Gateway) meter(ex *exchange, u usageOf) {
	if u.Usage == nil {
		g.stats.unmetered.Add(1)
		g.cfg.Log.Warn("llmgateway: an answer without usage, not metered", "upstream", ex.up.Name, "agent", ex.caller.Agent, "route", ex.route)
		return
	}
	model := u.Model
	if model == "" {
		model = ex.model
	}
	g.stats.prompt.Add(uint64(max(u.Usage.PromptTokens, 0)))
	g.stats.completion.Add(uint64(max(u.Usage.CompletionTokens, 0)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // the request's own may be gone
	defer cancel()
	if err := g.cfg.Ledger.Record(ctx, Usage{Caller: ex.caller, Upstream: ex.up.Name, Route: ex.route, Model: model,
		PromptTokens: u.Usage.PromptTokens, CompletionTokens: u.Usage.CompletionTokens, At: time.Now()}); err != nil {
		g.cfg.Log.Error("llmgateway: recording usage", "agent", ex.caller.Agent, "err", err)
	}
}
