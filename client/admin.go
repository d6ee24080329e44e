package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// Users lists every user (admins only).
func (c *Client) Users(ctx context.Context) ([]*wire.User, error) {
	var users []*wire.User
	err := c.get(ctx, "/api/admin/users", nil, &users)
	return users, err
}

// CreateUser makes a plain user (admins only): the way in when
// registration is closed.
func (c *Client) CreateUser(ctx context.Context, req wire.RegisterRequest) (*wire.User, error) {
	var u wire.User
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/admin/users", body: req}, &u)
	return orNil(&u, err)
}

// DisableUser ends the user's tokens and keys at once and stops their agents.
func (c *Client) DisableUser(ctx context.Context, id string) error {
	_, err := c.message(ctx, http.MethodPost, "/api/admin/users/"+seg(id)+"/disable", nil)
	return err
}

// EnableUser lets a disabled user sign in again.
func (c *Client) EnableUser(ctx context.Context, id string) error {
	_, err := c.message(ctx, http.MethodPost, "/api/admin/users/"+seg(id)+"/enable", nil)
	return err
}

// UserLimits is a user's effective limits and use (admins only).
func (c *Client) UserLimits(ctx context.Context, id string) (*wire.Usage, error) {
	var u wire.Usage
	err := c.get(ctx, "/api/admin/users/"+seg(id)+"/limits", nil, &u)
	return orNil(&u, err)
}

// SetUserLimits overrides a user's quotas; a nil field is the default.
func (c *Client) SetUserLimits(ctx context.Context, id string, l wire.Limits) (*wire.Usage, error) {
	var u wire.Usage
	err := c.call(ctx, request{method: http.MethodPut, path: "/api/admin/users/" + seg(id) + "/limits", body: l}, &u)
	return orNil(&u, err)
}

// Limits is the caller's own limits and use (GET /api/system/limits).
func (c *Client) Limits(ctx context.Context) (*wire.Usage, error) {
	var u wire.Usage
	err := c.get(ctx, "/api/system/limits", nil, &u)
	return orNil(&u, err)
}

// SystemStatus is the installation's health and use (admins only).
func (c *Client) SystemStatus(ctx context.Context) (*wire.SystemStatus, error) {
	var s wire.SystemStatus
	err := c.get(ctx, "/api/system/status", nil, &s)
	return orNil(&s, err)
}

// Audit lists audit entries, newest first (admins only). q.User is a user
// id or username; a zero field selects everything; Limit 0 is 100.
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]*wire.AuditEntry, error) {
	v := url.Values{}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if q.AgentID != "" {
		v.Set("agent", q.AgentID)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var r wire.AuditResponse
	err := c.get(ctx, "/api/audit", v, &r)
	return r.Entries, err
}

// Health is nil while the server process answers (GET /healthz).
func (c *Client) Health(ctx context.Context) error { return c.get(ctx, "/healthz", nil, nil) }

// Ready is nil while the server, its database and its runtime answer
// (GET /readyz); a 503 says which does not.
func (c *Client) Ready(ctx context.Context) error { return c.get(ctx, "/readyz", nil, nil) }

// Metrics returns the Prometheus metrics page as text.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/metrics", header: http.Header{"Accept": {"text/plain"}}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := readAll(resp, http.MethodGet, "/metrics")
	return string(b), err
}

// OpenAPI returns the server's OpenAPI 3.1 document as JSON.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/api/openapi.json"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readAll(resp, http.MethodGet, "/api/openapi.json")
}

// Proxy sends a request to the agent's own port through Warder
// (/api/agents/{id}/proxy/{path}), starting the agent if need be, and
// returns the agent's answer as it is; the caller closes its body. Only
// an answer from Warder itself (the agent not found, unreachable) is an
// *Error.
func (c *Client) Proxy(ctx context.Context, agentID, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	u := c.base + "/api/agents/" + seg(agentID) + "/proxy/" + strings.TrimPrefix(path, "/")
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token := c.Token(); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Security-Policy") == "" {
		// The proxy marks every answer of the agent's; one without the
		// mark is Warder's own error.
		defer resp.Body.Close()
		return nil, errorOf(resp)
	}
	return resp, nil
}
