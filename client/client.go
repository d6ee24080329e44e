// Package client is Warder's Go client: one method per route of the API,
// returning the resources as the server writes them (package wire's
// Agent, User, StatsView, ...), and streams (logs, stats, status events,
// chat) read as Server-Sent Events into callbacks. It imports package
// wire and the standard library, nothing else of Warder's.
//
//	c, err := client.Login(ctx, "http://localhost:8000", "alice", password)
//	a, err := c.CreateAgent(ctx, wire.AgentCreate{Name: "helper"})
//	a, err = c.StartAgent(ctx, a.ID)
//
// or, with an API key or a token saved earlier,
//
//	c := client.New("http://localhost:8000", key)
//
// Every error the server answers is a *Error with its status and detail.
// An answer is read up to MaxAnswerBytes (a stream's event up to 8 MiB):
// past that the call fails with ErrAnswerTooLarge.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder/wire"
)

// Client calls one Warder server with one credential. It is safe for
// concurrent use, Refresh included.
type Client struct {
	base string
	http *http.Client
	cred *credential
}

// credential is what a Client signs in with: a token or an API key, and
// the refresh token that renews a login's token (Refresh).
type credential struct {
	mu      sync.Mutex
	token   string
	refresh string
}

// WithRefreshToken keeps rt, the refresh token of the login whose token
// New was given (a program that saved both), for Refresh.
func WithRefreshToken(rt string) Option {
	return func(c *Client) { c.cred.refresh = rt }
}

// Option changes a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc (timeouts, proxies, TLS).
// Streams last as long as their context, so hc should set no overall
// Timeout if they are used.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client for the server at baseURL (e.g.
// http://localhost:8000) that signs in with token: a login token or an
// API key; "" for the calls that need none (register, login, health).
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: http.DefaultClient, cred: &credential{token: token}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithToken returns a copy of c that signs in with token (and has no
// refresh token).
func (c *Client) WithToken(token string) *Client {
	return &Client{base: c.base, http: c.http, cred: &credential{token: token}}
}

// Token is the token or API key the client signs in with now: after
// Refresh, the new one.
func (c *Client) Token() string {
	c.cred.mu.Lock()
	defer c.cred.mu.Unlock()
	return c.cred.token
}

// RefreshToken is the refresh token Refresh will use; "" if the client
// has none (an API key, or a token given without WithRefreshToken).
func (c *Client) RefreshToken() string {
	c.cred.mu.Lock()
	defer c.cred.mu.Unlock()
	return c.cred.refresh
}

// BaseURL is the server's address, as given to New.
func (c *Client) BaseURL() string { return c.base }

// Error is an answer from the server that is not a success: its HTTP
// status and the {"detail"} it gave. Status is 0 for an "error" event of
// a stream that had already begun.
type Error struct {
	Status int
	Detail string
	// RetryAfter is how long a 429 or 503 asks the caller to wait; 0 if
	// it did not say.
	RetryAfter time.Duration
	// RequestID is the server's id of the request, for its logs.
	RequestID string
}

// Error says the status and the detail.
func (e *Error) Error() string {
	if e.Status == 0 {
		return e.Detail
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

// StatusOf is err's HTTP status if it is (or wraps) an *Error, else 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// MaxAnswerBytes bounds what the client reads of an answer that is not a
// stream (a JSON document, the metrics page, the OpenAPI document):
// Warder's largest, a list of thousands of agents, is a few MiB, and a
// server (or whatever answers in its place) that sends more must not
// take the caller's memory. Past it a call fails with ErrAnswerTooLarge.
// Streams (logs, stats, events, chat, exec, file downloads) are not
// bounded as a whole: they are handed on piece by piece, each event at
// most 8 MiB.
const MaxAnswerBytes = 64 << 20

// ErrAnswerTooLarge is the error (wrapped) of a call whose answer went
// past MaxAnswerBytes, or of a stream event past its bound.
var ErrAnswerTooLarge = errors.New("the answer is larger than a Warder server sends")

// capped reads at most n bytes of r, then fails with ErrAnswerTooLarge
// rather than ending as if the answer were complete.
type capped struct {
	r io.Reader
	n int64 // bytes still allowed
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more tells an answer of exactly the bound from a
		// longer one.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (over %d MiB)", ErrAnswerTooLarge, MaxAnswerBytes>>20)
		}
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// bounded is resp's body as a call reads it: at most MaxAnswerBytes.
func bounded(resp *http.Response) io.Reader {
	return &capped{r: resp.Body, n: MaxAnswerBytes}
}

// request is one call: method, path (with its query) and a body.
type request struct {
	method string
	path   string
	query  url.Values
	// body is encoded as JSON unless it is a url.Values (a form) or nil.
	body   any
	header http.Header
	// raw, when set, is sent as it is, as rawType (an upload).
	raw     io.Reader
	rawType string
	// watch marks a stream that lasts until someone ends it (logs
	// followed, stats, status changes): once it has begun, the caller's
	// context ending it is its end, not an error.
	watch bool
}

// send makes the call and returns the response of a success; any other
// status is an *Error, and the body is closed.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	contentType := ""
	switch b := r.body.(type) {
	case nil:
		if r.raw != nil {
			body, contentType = r.raw, r.rawType
		}
	case url.Values:
		body, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("warder client: encode %s %s: %w", r.method, r.path, err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("warder client: %w", err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if token := c.Token(); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, errorOf(resp)
}

// errorOf reads a failed answer into an *Error.
func errorOf(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID")}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body wire.ErrorResponse
	if json.Unmarshal(raw, &body) == nil && body.Detail != "" {
		e.Detail = body.Detail
	} else if text := strings.TrimSpace(string(raw)); text != "" {
		e.Detail = text
	} else {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	return e
}

// call makes the call and decodes a success's JSON into out (nil: the
// body is discarded).
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, r.method, r.path, out)
}

// decode reads resp's JSON body into out (nil: the body is read and
// discarded), at most MaxAnswerBytes of it. The body is read whole
// before it is decoded, as a json.Decoder would buffer it too, but into
// a buffer that grows more gently than the Decoder's doubling one.
func decode(resp *http.Response, method, path string, out any) error {
	if out == nil {
		if _, err := io.Copy(io.Discard, bounded(resp)); err != nil {
			return fmt.Errorf("warder client: %s %s: %w", method, path, err)
		}
		return nil
	}
	b, err := readAll(resp, method, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("warder client: %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// readAll reads resp's body whole, at most MaxAnswerBytes of it.
func readAll(resp *http.Response, method, path string) ([]byte, error) {
	b, err := io.ReadAll(bounded(resp))
	if err != nil {
		return nil, fmt.Errorf("warder client: %s %s: %w", method, path, err)
	}
	return b, nil
}

// get is call for a GET.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

// message makes a call answered with {"message"} and returns the message.
func (c *Client) message(ctx context.Context, method, path string, body any) (string, error) {
	var m wire.MessageResponse
	err := c.call(ctx, request{method: method, path: path, body: body}, &m)
	return m.Message, err
}

// seg escapes one path segment: ids and names come from callers.
func seg(s string) string { return url.PathEscape(s) }

// orNil is v, or nil with err: a call that failed returns no resource.
func orNil[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
