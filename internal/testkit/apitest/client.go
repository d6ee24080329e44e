// Package apitest is the tests' side of Warder's HTTP API: a real Warder
// in-process behind an httptest server (Start), and a raw HTTP client
// (Client) that sends any body with any token, so tests can send what a
// typed client never would, with the checks the API tests and the
// end-to-end tests share (error shapes, status waits, streams, metrics).
// The client works against any Warder: api's on the fake runtime, e2e's
// on Docker, or a warder process.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/openapitest"
)

// Client is one user talking to a Warder at Base. A zero Token sends no
// credentials; T is the test it fails.
type Client struct {
	T      *testing.T
	Base   string
	Token  string
	UserID string
}

// Register creates a user on the Warder at base and logs in; the password
// is "password-" + name.
func Register(t *testing.T, base, name string) *Client {
	t.Helper()
	c := &Client{T: t, Base: base}
	var u warder.User
	c.MustDo("POST", "/api/auth/register", map[string]string{"username": name, "email": name + "@example.com", "password": "password-" + name}, 201, &u)
	c.UserID = u.ID
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.MustDo("POST", "/api/auth/login", map[string]string{"username": name, "password": "password-" + name}, 200, &tok)
	c.Token = tok.AccessToken
	return c
}

// Do sends a request; body may be nil, a string (sent raw) or a value
// (sent as JSON). It returns the status and the raw body.
func (c *Client) Do(method, path string, body any) (int, []byte) {
	c.T.Helper()
	status, _, raw := c.DoHeader(method, path, body)
	return status, raw
}

// DoHeader is Do that also returns the answer's headers.
func (c *Client) DoHeader(method, path string, body any) (int, http.Header, []byte) {
	c.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		c.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	c.checkAnswer(req, resp, out)
	return resp.StatusCode, resp.Header, out
}

// docs holds each Warder's OpenAPI document, by base URL.
var docs sync.Map

// checkAnswer fails the test when a whole answer of an operation the
// server's OpenAPI document names does not match it: every end-to-end and
// API test checks the document against real answers as it goes. Streams,
// the proxy (the agent's answers) and paths the document does not name
// (a 404 for an unknown route) are not checked here.
func (c *Client) checkAnswer(req *http.Request, resp *http.Response, body []byte) {
	c.T.Helper()
	if strings.Contains(req.URL.Path, "/proxy/") || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return
	}
	d, ok := docs.Load(c.Base)
	if !ok {
		r, err := http.Get(c.Base + "/api/openapi.json")
		if err != nil {
			return
		}
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		r.Body.Close()
		doc, err := openapitest.Load(raw)
		if err != nil {
			c.T.Fatalf("the server's OpenAPI document: %v", err)
		}
		d, _ = docs.LoadOrStore(c.Base, doc)
	}
	doc := d.(*openapitest.Doc)
	if doc.Operation(req.Method, req.URL.Path) == "" {
		return
	}
	if err := doc.CheckBody(req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
		c.T.Errorf("the answer does not match the OpenAPI document: %v\n%s", err, body)
	}
}

// MustDo is Do that fails the test unless the status is want, and decodes
// the body into out when out is not nil.
func (c *Client) MustDo(method, path string, body any, want int, out any) {
	c.T.Helper()
	status, raw := c.Do(method, path, body)
	if status != want {
		c.T.Fatalf("%s %s = %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.T.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
}

// Login signs c's user (name) in again, returning a client with the new
// token.
func (c *Client) Login(name string) *Client {
	c.T.Helper()
	fresh := &Client{T: c.T, Base: c.Base, UserID: c.UserID}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	fresh.MustDo("POST", "/api/auth/login", map[string]string{"username": name, "password": "password-" + name}, 200, &tok)
	fresh.Token = tok.AccessToken
	return fresh
}

// Key is a created API key as the API shows it, secret included.
type Key struct {
	warder.APIKey
	Key string `json:"key"`
}

// NewKey makes an API key as c and returns a client using it, and the key.
func (c *Client) NewKey(body map[string]any) (*Client, Key) {
	c.T.Helper()
	var k Key
	c.MustDo("POST", "/api/auth/keys", body, 201, &k)
	return &Client{T: c.T, Base: c.Base, Token: k.Key, UserID: c.UserID}, k
}

// TokenForm logs in through the OAuth2 password form.
func TokenForm(t *testing.T, base, user, pass string) (int, []byte) {
	t.Helper()
	resp, err := http.PostForm(base+"/api/auth/token", url.Values{"username": {user}, "password": {pass}, "grant_type": {"password"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// DetailOf returns the "detail" of an error body, failing if there is none.
func DetailOf(t *testing.T, raw []byte) string {
	t.Helper()
	var d struct{ Detail *string }
	if err := json.Unmarshal(raw, &d); err != nil || d.Detail == nil || *d.Detail == "" {
		t.Fatalf("body %s has no {\"detail\": ...}", raw)
	}
	return *d.Detail
}

// Parallel runs f(0..n-1) at once and waits for all.
func Parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}
