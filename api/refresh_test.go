package api_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// loginAnswer is the login (and refresh) answer as the original Warder's
// clients read it.
type loginAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	Role         string `json:"role"`
}

// TestRefreshTokens: a login answers a refresh token and whom it is for;
// a refresh token is good for one refresh, and shown again (a leak) it
// revokes its login's tokens; a logout revokes them too; neither kind of
// token stands in for the other.
func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	root := ts.register(t, "root")
	anon := ts.anon(t)
	var login loginAnswer
	anon.MustDo("POST", "/api/auth/login", map[string]string{"username": "root", "password": "password-root"}, 200, &login)
	if login.RefreshToken == "" || login.RefreshToken == login.AccessToken || login.UserID != root.UserID || login.Username != "root" || login.Role != "admin" || login.TokenType != "bearer" || login.ExpiresIn <= 0 {
		t.Fatalf("login answer = %+v", login)
	}
	refresh := func(tok string, want int) loginAnswer {
		t.Helper()
		var next loginAnswer
		anon.MustDo("POST", "/api/auth/refresh", map[string]string{"refresh_token": tok}, want, &next)
		return next
	}
	me := func(tok string, want int) {
		t.Helper()
		ts.as(t, tok).MustDo("GET", "/api/auth/me", nil, want, nil)
	}

	first := refresh(login.RefreshToken, 200)
	if first.AccessToken == login.AccessToken || first.RefreshToken == login.RefreshToken || first.UserID != root.UserID || first.Role != "admin" {
		t.Fatalf("refresh answer = %+v", first)
	}
	me(first.AccessToken, 200)
	me(login.AccessToken, 200)
	me(first.RefreshToken, 401)                // a refresh token is no bearer token
	refresh(first.AccessToken, 401)            // nor an access token a refresh token
	second := refresh(first.RefreshToken, 200) // rotating: the new one works once

	// Used: refused, and the login's tokens are revoked, the newest too.
	refresh(login.RefreshToken, 401)
	for _, tok := range []string{login.AccessToken, first.AccessToken, second.AccessToken} {
		me(tok, 401)
	}
	refresh(second.RefreshToken, 401)

	// Revoked by a logout, with an access token the login issued.
	var other loginAnswer
	anon.MustDo("POST", "/api/auth/login", map[string]string{"username": "root", "password": "password-root"}, 200, &other)
	next := refresh(other.RefreshToken, 200)
	ts.as(t, other.AccessToken).MustDo("POST", "/api/auth/logout", nil, 200, nil)
	me(next.AccessToken, 401)
	refresh(next.RefreshToken, 401)
	me(root.Token, 200) // another login is not touched

	// The OAuth2 refresh form works too, and refuses another grant_type.
	var third loginAnswer
	anon.MustDo("POST", "/api/auth/login", map[string]string{"username": "root", "password": "password-root"}, 200, &third)
	form := func(vals url.Values) (int, []byte) {
		resp, err := http.PostForm(ts.URL+"/api/auth/refresh", vals)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	if status, raw := form(url.Values{"grant_type": {"password"}, "refresh_token": {third.RefreshToken}}); status != 400 {
		t.Fatalf("refresh form with grant_type=password = %d %s", status, raw)
	}
	if status, raw := form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {third.RefreshToken}}); status != 200 || !strings.Contains(string(raw), `"refresh_token":"wdr_rt_`) {
		t.Fatalf("refresh form = %d %s", status, raw)
	}

	// Malformed requests.
	anon.MustDo("POST", "/api/auth/refresh", map[string]string{}, 400, nil)
	refresh("wdr_rt_not-a-real-token", 401)
}

// TestOpenAPIAtRoot: the document is served where FastAPI serves it too.
func TestOpenAPIAtRoot(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	var a, b map[string]any
	ts.anon(t).MustDo("GET", "/openapi.json", nil, 200, &a)
	ts.anon(t).MustDo("GET", "/api/openapi.json", nil, 200, &b)
	if a["openapi"] != b["openapi"] || a["openapi"] == nil {
		t.Fatalf("openapi = %v, %v", a["openapi"], b["openapi"])
	}
}
