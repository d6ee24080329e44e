package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	// A FROM scratch image has no CA certificates; this bundle is used
	// only when the system has none, so https model APIs work anyway.
	_ "golang.org/x/crypto/x509roots/fallback"
)

// Bounds on what the model API may send.
const (
	maxCompletionBytes = 16 << 20 // a whole non-streamed answer
	maxStreamLineBytes = 1 << 20  // one line of a streamed answer
	maxErrorBodyBytes  = 64 << 10 // an error body, of which little is shown
	statusCacheFor     = 30 * time.Second
	statusCheckTimeout = 2 * time.Second
)

// llmClient talks to an OpenAI-compatible chat-completions API.
type llmClient struct {
	llmSettings
	cfg  agentConfig
	http *http.Client

	mu      sync.Mutex // one status check at a time
	checked time.Time
	state   string
	detail  string
}

func newLLMClient(s llmSettings, cfg agentConfig) *llmClient {
	dial := &net.Dialer{Timeout: min(10*time.Second, s.timeout), KeepAlive: 30 * time.Second}
	return &llmClient{llmSettings: s, cfg: cfg, http: &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial.DialContext,
		TLSHandshakeTimeout:   min(10*time.Second, s.timeout),
		ResponseHeaderTimeout: s.timeout,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}}
}

func (c *llmClient) name() string { return c.cfg.Model }

// completionRequest is the chat-completions request body.
type completionRequest struct {
	Model       string    `json:"model"`
	Messages    []message `json:"messages"`
	Stream      bool      `json:"stream"`
	Temperature *float64  `json:"temperature,omitempty"`
	MaxTokens   *int      `json:"max_tokens,omitempty"`
}

// completion is a chat-completions answer, or one chunk of a streamed one.
type completion struct {
	Model   string `json:"model"`
	Choices []struct {
		Message      *struct{ Content *string } `json:"message"`
		Delta        *struct{ Content *string } `json:"delta"`
		FinishReason *string                    `json:"finish_reason"`
	} `json:"choices"`
	Error json.RawMessage `json:"error"`
}

// complete asks the model to answer msgs. With onDelta set it streams,
// calling onDelta with each piece of content. The model API may stay
// silent at most LLM_TIMEOUT at any point, so no call hangs.
func (c *llmClient) complete(ctx context.Context, msgs []message, onDelta func(string) error) (reply, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := time.AfterFunc(c.timeout, func() { cancel(errSilent) })
	defer watch.Stop()

	body, err := json.Marshal(completionRequest{
		Model: c.cfg.Model, Messages: msgs, Stream: onDelta != nil,
		Temperature: c.cfg.Temperature, MaxTokens: c.cfg.MaxTokens,
	})
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if onDelta != nil {
		req.Header.Set("Accept", "text/event-stream")
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, c.failure(ctx, err)
	}
	defer resp.Body.Close()
	r := &kickReader{r: resp.Body, kick: func() { watch.Reset(c.timeout) }}
	if resp.StatusCode != http.StatusOK {
		return reply{}, c.statusError(resp.StatusCode, resp.Header, r)
	}
	if onDelta != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		rep, err := c.readStream(r, onDelta)
		if err != nil {
			return reply{}, c.failure(ctx, err)
		}
		return rep, nil
	}
	// Not a stream (or a server that does not stream): one piece.
	rep, err := c.readCompletion(r)
	if err != nil {
		return reply{}, c.failure(ctx, err)
	}
	if onDelta != nil && rep.Content != "" {
		if err := onDelta(rep.Content); err != nil {
			return reply{}, &clientError{err}
		}
	}
	return rep, nil
}

func (c *llmClient) authorize(req *http.Request) {
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
}

// readCompletion reads a whole chat-completions answer.
func (c *llmClient) readCompletion(r io.Reader) (reply, error) {
	var comp completion
	if err := json.NewDecoder(io.LimitReader(r, maxCompletionBytes)).Decode(&comp); err != nil {
		if isReadError(err) {
			return reply{}, err
		}
		return reply{}, &upstreamError{"the model API answered with something that is not a chat completion"}
	}
	if len(comp.Error) > 0 && string(comp.Error) != "null" {
		return reply{}, &upstreamError{"the model API reported an error: " + c.errorText(comp.Error)}
	}
	if len(comp.Choices) == 0 || comp.Choices[0].Message == nil {
		return reply{}, &upstreamError{"the model API answered without a message"}
	}
	rep := reply{Model: comp.Model}
	if p := comp.Choices[0].Message.Content; p != nil {
		rep.Content = *p
	}
	return rep, nil
}

// readStream reads a streamed answer: Server-Sent Events whose data lines
// hold chunks, ending with "data: [DONE]".
func (c *llmClient) readStream(r io.Reader, onDelta func(string) error) (reply, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxStreamLineBytes)
	var (
		content  strings.Builder
		model    string
		finished bool
	)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue // comments, event names, ids, blank lines
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			return reply{Content: content.String(), Model: model}, nil
		}
		var chunk completion
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return reply{}, &upstreamError{"the model API sent a stream that is not chat-completion chunks"}
		}
		if len(chunk.Error) > 0 && string(chunk.Error) != "null" {
			return reply{}, &upstreamError{"the model API reported an error mid-answer: " + c.errorText(chunk.Error)}
		}
		if chunk.Model != "" {
			model = chunk.Model
		}
		for _, ch := range chunk.Choices {
			if ch.Delta != nil && ch.Delta.Content != nil && *ch.Delta.Content != "" {
				content.WriteString(*ch.Delta.Content)
				if err := onDelta(*ch.Delta.Content); err != nil {
					return reply{}, &clientError{err}
				}
			}
			finished = finished || ch.FinishReason != nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return reply{}, &upstreamError{"the model API sent a stream line over 1 MiB"}
		}
		return reply{}, err
	}
	if !finished {
		return reply{}, &upstreamError{"the model API's stream ended before the answer was complete"}
	}
	return reply{Content: content.String(), Model: model}, nil
}

// status reports whether the model API answers: "ok", or "error" and why.
// It asks GET /models, which OpenAI-compatible servers answer cheaply, at
// most every statusCacheFor, since Docker's health check calls every 5 s.
func (c *llmClient) status(ctx context.Context) (state, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < statusCacheFor {
		return c.state, c.detail
	}
	c.state, c.detail = c.check(ctx)
	c.checked = time.Now()
	return c.state, c.detail
}

func (c *llmClient) check(ctx context.Context) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, min(statusCheckTimeout, c.timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/models", nil)
	if err != nil {
		return "error", err.Error()
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "error", fmt.Sprintf("the model API at %s did not answer within %s", c.where(), min(statusCheckTimeout, c.timeout))
		}
		return "error", c.failure(ctx, err).Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
	switch code := resp.StatusCode; {
	case code < 400, code == http.StatusNotFound, code == http.StatusMethodNotAllowed:
		return "ok", "" // it answers; not every server lists its models
	default:
		return "error", c.statusError(code, resp.Header, http.NoBody).Error()
	}
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
