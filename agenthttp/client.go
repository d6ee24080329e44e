// Package agenthttp implements warder.AgentClient: the agent protocol
// (GET /health, POST /chat, answers whole or as Server-Sent Events) over
// HTTP to an agent's published port.
package agenthttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/warder/warder"
)

var _ warder.AgentClient = (*Client)(nil)

// Bounds that keep a dead or misbehaving agent from holding a caller.
const (
	dialTimeout   = 5 * time.Second
	healthTimeout = 2 * time.Second
	// DefaultIdleTimeout is how long an agent may stay silent while it
	// answers: long enough for its own model timeout (60 s by default)
	// to fire first and say what went wrong.
	DefaultIdleTimeout = 5 * time.Minute
	// maxErrorBytes caps what is read of an error answer or of /health,
	// whose bodies Warder only words an error from or throws away.
	maxErrorBytes = 64 << 10
	// idleConnTimeout keeps a connection to an agent open between its
	// health probes: a steady agent is probed every 30 s (service's
	// steadyAfter and steadyEvery), and with a 30 s timeout about half of
	// those probes opened a new connection, which on Docker goes through
	// the engine's docker-proxy for the agent's port. At 1,000 agents
	// the probes were most of what Warder cost the engine
	// (docs/benchmarks.md). An idle connection costs Warder a few tens of
	// kilobytes and no CPU.
	idleConnTimeout = 2 * time.Minute
)

// Client is a warder.AgentClient. The zero value is not usable; call New.
type Client struct {
	http *http.Client
	idle time.Duration
}

// New returns a Client whose answers may pause at most idle (0 means
// DefaultIdleTimeout). It never uses an HTTP proxy: agents are local.
func New(idle time.Duration) *Client {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	return &Client{idle: idle, http: &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
		ResponseHeaderTimeout: idle,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       idleConnTimeout,
	}}}
}

// Health asks GET /health once, within healthTimeout.
func (c *Client) Health(ctx context.Context, base *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("health").String(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return warder.Errorf(warder.ErrBadGateway, "the agent does not answer on %s: %v", base.Host, unwrapURL(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return warder.Errorf(warder.ErrBadGateway, "the agent's /health answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// Chat posts msg to /chat and reads the answer, whole or streamed; a
// streamed answer is read as it comes and may pause at most the idle
// timeout between pieces.
func (c *Client) Chat(ctx context.Context, base *url.URL, msg warder.AgentChat, onDelta func(string) error) (warder.AgentAnswer, error) {
	msg.Stream = onDelta != nil
	if msg.Messages == nil {
		msg.Messages = []warder.AgentMessage{}
	}
	// Unescaped HTML characters: "<" would otherwise take six bytes, and
	// the agent's body limit is in bytes.
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return warder.AgentAnswer{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := time.AfterFunc(c.idle, func() { cancel(errSilent) })
	defer watch.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath("chat").String(), &body)
	if err != nil {
		return warder.AgentAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if msg.Stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return warder.AgentAnswer{}, c.failure(ctx, err)
	}
	defer resp.Body.Close()
	r := &kickReader{r: resp.Body, kick: func() { watch.Reset(c.idle) }}
	if resp.StatusCode != http.StatusOK {
		return warder.AgentAnswer{}, statusError(resp.StatusCode, r)
	}
	var ans warder.AgentAnswer
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		ans, err = readStream(r, onDelta)
	} else {
		ans, err = readAnswer(r, onDelta)
	}
	if err != nil {
		return warder.AgentAnswer{}, c.failure(ctx, err)
	}
	return ans, nil
}

// errSilent cancels a request whose agent stayed silent too long.
var errSilent = errors.New("agent silent for too long")

// deltaError is a failure to pass a piece on to our own caller.
type deltaError struct{ err error }

func (e *deltaError) Error() string { return e.err.Error() }
func (e *deltaError) Unwrap() error { return e.err }

// failure words an error met while asking or reading.
func (c *Client) failure(ctx context.Context, err error) error {
	var we *warder.Error
	var de *deltaError
	switch {
	case errors.As(err, &we):
		return err
	case errors.As(err, &de):
		return de.err
	case errors.Is(context.Cause(ctx), errSilent):
		return warder.Errorf(warder.ErrBadGateway, "the agent did not answer for %s", c.idle)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return warder.Errorf(warder.ErrBadGateway, "the agent's answer broke off: %v", unwrapURL(err))
}

// statusError is a non-200 answer: the agent's own {"detail"} when it gave
// one (the default agent's 502s say what its model did), passed on as 502.
func statusError(code int, r io.Reader) error {
	raw, _ := io.ReadAll(io.LimitReader(r, maxErrorBytes))
	var d struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(raw, &d) == nil && d.Detail != "" {
		if code == http.StatusBadGateway {
			return warder.Errorf(warder.ErrBadGateway, "%s", d.Detail)
		}
		return warder.Errorf(warder.ErrBadGateway, "the agent answered HTTP %d: %s", code, d.Detail)
	}
	return warder.Errorf(warder.ErrBadGateway, "the agent answered HTTP %d", code)
}

// answer is the agent's JSON answer, and the data of its "done" event.
type answer struct {
	Content string `json:"content"`
	Model   string `json:"model"`
}

// readAnswer reads a whole answer, at most warder.MaxAnswerBytes of it:
// a longer one is an error that names the bound, not a truncated answer.
func readAnswer(r io.Reader, onDelta func(string) error) (warder.AgentAnswer, error) {
	var a answer
	capped := &capReader{r: r, left: warder.MaxAnswerBytes, err: tooLarge("its answer")}
	if err := json.NewDecoder(capped).Decode(&a); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.EOF) {
			return warder.AgentAnswer{}, warder.Errorf(warder.ErrBadGateway, "the agent answered with something that is not {\"content\": ...}")
		}
		return warder.AgentAnswer{}, err
	}
	if onDelta != nil && a.Content != "" {
		if err := onDelta(a.Content); err != nil {
			return warder.AgentAnswer{}, &deltaError{err}
		}
	}
	return warder.AgentAnswer{Content: a.Content, Model: a.Model}, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// capReader reads at most left bytes of r; reading past them is err.
// Unlike io.LimitReader, whose EOF would pass a cut-off answer for a
// malformed one, it says the bound was passed.
type capReader struct {
	r    io.Reader
	left int64
	err  error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, c.err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// kickReader calls kick whenever bytes arrive, to push a deadline back.
type kickReader struct {
	r    io.Reader
	kick func()
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.kick()
	}
	return n, err
}
