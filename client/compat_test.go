package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestOriginalClientsNoDocker: what the original Warder's (FastAPI)
// clients send is understood: the OAuth2 password form at
// /api/auth/login (URL-encoded and multipart), /api/users/me, /health,
// first_name and last_name at registration, container_config.auto_start.
// e2e's TestOriginalClientFlow walks the same on Docker.
func TestOriginalClientsNoDocker(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	root, _ := mustSignIn(t, s, "root")
	anon := s.New("")
	u := try(anon.Register(ctx, wire.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse",
		FirstName: " Alice ", LastName: "Liddell"})).must(t)
	if u.FirstName != "Alice" || u.LastName != "Liddell" {
		t.Fatalf("registered: %+v", u)
	}

	// The form, as OAuth2PasswordRequestForm clients send it.
	post := func(ctype string, body *bytes.Buffer) (int, wire.TokenResponse) {
		resp, err := http.Post(s.URL+"/api/auth/login", ctype, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok wire.TokenResponse
		json.NewDecoder(resp.Body).Decode(&tok)
		return resp.StatusCode, tok
	}
	form := url.Values{"username": {"alice"}, "password": {"correct horse"}, "grant_type": {"password"}}
	status, tok := post("application/x-www-form-urlencoded", bytes.NewBufferString(form.Encode()))
	if status != 200 || tok.AccessToken == "" || tok.TokenType != "bearer" {
		t.Fatalf("URL-encoded form login: %d %+v", status, tok)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("username", "alice")
	mw.WriteField("password", "correct horse")
	mw.Close()
	if status, tok2 := post(mw.FormDataContentType(), &mp); status != 200 || tok2.AccessToken == "" {
		t.Fatalf("multipart form login: %d %+v", status, tok2)
	}
	if status, _ := post("application/x-www-form-urlencoded", bytes.NewBufferString("username=alice&password=wrong-password")); status != 401 {
		t.Fatalf("a wrong password in a form: %d", status)
	}

	get := func(path, token string, v any) int {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := s.Checker.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	var me wire.Me
	if status := get("/api/users/me", tok.AccessToken, &me); status != 200 || me.Username != "alice" || me.FirstName != "Alice" || me.LastName != "Liddell" {
		t.Fatalf("/api/users/me: %d %+v", status, me)
	}
	var health wire.HealthResponse
	if status := get("/health", "", &health); status != 200 || health.Status != "ok" {
		t.Fatalf("/health: %d %+v", status, health)
	}

	// auto_start: the agent is running when create answers.
	alice := s.New(tok.AccessToken)
	a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "auto", ContainerConfig: wire.ContainerConfig{AutoStart: true}})).must(t)
	if a.Status != wire.StatusRunning || a.HostPort == 0 || !a.ContainerConfig.AutoStart {
		t.Fatalf("created with auto_start: %+v", a)
	}
	if b := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "manual"})).must(t); b.Status != wire.StatusCreated {
		t.Fatalf("created without auto_start: %+v", b)
	}
	// A start that is refused says the agent was made, with the start's
	// status: here a quota of one running agent.
	one := 1
	try(root.SetUserLimits(ctx, u.ID, wire.Limits{RunningAgents: &one})).must(t)
	_, err := alice.CreateAgent(ctx, wire.AgentCreate{Name: "unlucky", ContainerConfig: wire.ContainerConfig{AutoStart: true}})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || !strings.Contains(e.Detail, `agent "unlucky" was created`) {
		t.Fatalf("auto_start that is refused: %v", err)
	}
	list := try(alice.Agents(ctx)).must(t)
	if len(list) != 3 {
		t.Fatalf("%d agents after a failed auto_start, want 3", len(list))
	}
}
