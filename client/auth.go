package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/warder/warder/wire"
)

// Register creates an account (POST /api/auth/register). The first user
// of an empty server becomes its admin.
func (c *Client) Register(ctx context.Context, req wire.RegisterRequest) (*wire.User, error) {
	var u wire.User
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/register", body: req}, &u)
	return &u, err
}

// Login exchanges a username (or email) and password for a bearer token
// (POST /api/auth/login); use it with New or WithToken.
func (c *Client) Login(ctx context.Context, username, password string) (*wire.TokenResponse, error) {
	var t wire.TokenResponse
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/login",
		body: wire.LoginRequest{Username: username, Password: password}}, &t)
	return &t, err
}

// LoginForm is Login as an OAuth2 password form (POST /api/auth/token),
// the way FastAPI clients sign in.
func (c *Client) LoginForm(ctx context.Context, username, password string) (*wire.TokenResponse, error) {
	var t wire.TokenResponse
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/token", body: form}, &t)
	return &t, err
}

// Logout revokes the client's token at once; with an API key, the key
// and the keys made with it.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.message(ctx, http.MethodPost, "/api/auth/logout", nil)
	return err
}

// Me says who the client's credential belongs to (GET /api/auth/me).
func (c *Client) Me(ctx context.Context) (*wire.Me, error) {
	var m wire.Me
	err := c.get(ctx, "/api/auth/me", nil, &m)
	return &m, err
}

// CreateKey makes an API key (POST /api/auth/keys). Its secret, Key, is
// shown this once.
func (c *Client) CreateKey(ctx context.Context, req wire.APIKeyCreate) (*wire.APIKeyCreated, error) {
	var k wire.APIKeyCreated
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/keys", body: req}, &k)
	return &k, err
}

// Keys lists the caller's API keys, oldest first, without their secrets.
func (c *Client) Keys(ctx context.Context) ([]*wire.APIKey, error) {
	var keys []*wire.APIKey
	err := c.get(ctx, "/api/auth/keys", nil, &keys)
	return keys, err
}

// DeleteKey revokes one of the caller's keys, and the keys made with it.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	_, err := c.message(ctx, http.MethodDelete, "/api/auth/keys/"+seg(id), nil)
	return err
}
