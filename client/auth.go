package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/warder/warder/wire"
)

// Register creates an account (POST /api/auth/register). The first user
// of an empty server becomes its admin.
func (c *Client) Register(ctx context.Context, req wire.RegisterRequest) (*wire.User, error) {
	var u wire.User
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/register", body: req}, &u)
	return orNil(&u, err)
}

// Login signs in to the server at baseURL with a username (or email) and
// password (POST /api/auth/login) and returns a client that uses the
// token, and renews it with Refresh. opts are New's.
func Login(ctx context.Context, baseURL, username, password string, opts ...Option) (*Client, error) {
	anon := New(baseURL, "", opts...)
	t, err := anon.Login(ctx, username, password)
	if err != nil {
		return nil, err
	}
	return New(baseURL, t.AccessToken, append(opts, WithRefreshToken(t.RefreshToken))...), nil
}

// Login exchanges a username (or email) and password for a bearer token
// and a refresh token (POST /api/auth/login), as they are: the
// package-level Login returns a client that uses them.
func (c *Client) Login(ctx context.Context, username, password string) (*wire.TokenResponse, error) {
	var t wire.TokenResponse
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/login",
		body: wire.LoginRequest{Username: username, Password: password}}, &t)
	return orNil(&t, err)
}

// ErrNoRefreshToken is Refresh's error on a client without a refresh
// token: one made with New from an API key or a bare token.
var ErrNoRefreshToken = errors.New("warder client: no refresh token: sign in with Login, or give New WithRefreshToken")

// Refresh renews the client's login (POST /api/auth/refresh): the client
// signs in with the new token from then on and keeps the new refresh
// token for the next Refresh, as each is good once. The answer is
// returned for a program that saves the tokens. Calls running meanwhile
// may still use the old token, which stays valid until it expires.
func (c *Client) Refresh(ctx context.Context) (*wire.TokenResponse, error) {
	// One refresh at a time: a refresh token is good once, and a second
	// use of it revokes the whole login.
	c.cred.mu.Lock()
	defer c.cred.mu.Unlock()
	if c.cred.refresh == "" {
		return nil, ErrNoRefreshToken
	}
	anon := &Client{base: c.base, http: c.http, cred: &credential{}}
	var t wire.TokenResponse
	err := anon.call(ctx, request{method: http.MethodPost, path: "/api/auth/refresh",
		body: wire.RefreshRequest{RefreshToken: c.cred.refresh}}, &t)
	if err != nil {
		return nil, err
	}
	c.cred.token, c.cred.refresh = t.AccessToken, t.RefreshToken
	return &t, nil
}

// LoginForm is Login as an OAuth2 password form (POST /api/auth/token),
// the way FastAPI clients sign in.
func (c *Client) LoginForm(ctx context.Context, username, password string) (*wire.TokenResponse, error) {
	var t wire.TokenResponse
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/token", body: form}, &t)
	return orNil(&t, err)
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
	return orNil(&m, err)
}

// CreateKey makes an API key (POST /api/auth/keys). Its secret, Key, is
// shown this once.
func (c *Client) CreateKey(ctx context.Context, req wire.APIKeyCreate) (*wire.APIKeyCreated, error) {
	var k wire.APIKeyCreated
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/auth/keys", body: req}, &k)
	return orNil(&k, err)
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
