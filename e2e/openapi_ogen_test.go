package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ogen-go/ogen"
	"github.com/ogen-go/ogen/gen"
	"github.com/ogen-go/ogen/gen/genfs"
	"go.uber.org/zap"

	// The generated client's dependencies: imported here so that go.mod
	// requires them and the module cache holds them for TestOgenClient,
	// which builds offline.
	_ "github.com/go-faster/errors"
	_ "github.com/go-faster/jx"
	_ "github.com/ogen-go/ogen/conv"
	_ "github.com/ogen-go/ogen/http"
	_ "github.com/ogen-go/ogen/json"
	_ "github.com/ogen-go/ogen/ogenerrors"
	_ "github.com/ogen-go/ogen/ogenregex"
	_ "github.com/ogen-go/ogen/uri"
	_ "github.com/ogen-go/ogen/validate"
)

// TestOgenClient generates a Go client from the document a real Warder
// on Docker serves, with ogen as a library (the version go.mod pins;
// the client alone, without OpenTelemetry), builds it with go vet in a
// module of its own, offline from the module cache, and runs a program
// written against it: register, log in, create, start, list, write and
// read a file in the agent's workspace, a 404 as the named error, stop,
// delete. ogen refused the document while /api/agents and /api/agents/
// shared an operationId; this keeps a change that breaks it from
// landing (api.TestOpenAPIGoClient does the same with oapi-codegen).
func TestOgenClient(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, to build the generated client: %v", err)
	}
	ts := newTestServer(t, nil)
	resp, err := http.Get(ts.URL + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	spec, err := ogen.Parse(raw)
	if err != nil {
		t.Fatalf("ogen cannot read the document: %v", err)
	}
	g, err := gen.NewGenerator(spec, gen.Options{Logger: zap.NewNop(), Generator: gen.GenerateOptions{
		Features: &gen.FeatureOptions{DisableAll: true, Enable: gen.FeatureSet{gen.PathsClient.Name: {}}},
	}})
	if err != nil {
		t.Fatalf("ogen refuses the document: %v", err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "warderclient"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := g.WriteSource(genfs.FormattedSource{Root: filepath.Join(dir, "warderclient"), Format: true}, "warderclient"); err != nil {
		t.Fatalf("ogen: %v", err)
	}

	// The module is this repository's go.mod and go.sum under another
	// name, so every module it needs is one this repository's own build
	// brought into the cache.
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module example.com/flow"))
	sum, err := os.ReadFile("../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"go.mod": mod, "go.sum": sum, "main.go": []byte(ogenFlow)} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), goCmd, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
		t.Logf("go %v: %s", args, out)
	}
	run("vet", "./...")
	run("run", ".", ts.URL)
}

// ogenFlow is a new user's program against the ogen client; it exits
// non-zero, saying why, at the first answer that is not as it should be.
const ogenFlow = `package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ogen-go/ogen/ogenerrors"

	wc "example.com/flow/warderclient"
)

// token signs every call that needs it in with a login token; the other
// schemes the document offers (an API key, OAuth2) are skipped.
type token string

func (t token) Bearer(context.Context, wc.OperationName) (wc.Bearer, error) {
	if t == "" {
		return wc.Bearer{}, ogenerrors.ErrSkipClientSecurity
	}
	return wc.Bearer{Token: string(t)}, nil
}

func (token) ApiKey(context.Context, wc.OperationName) (wc.ApiKey, error) {
	return wc.ApiKey{}, ogenerrors.ErrSkipClientSecurity
}

func (token) OAuth2(context.Context, wc.OperationName) (wc.OAuth2, error) {
	return wc.OAuth2{}, ogenerrors.ErrSkipClientSecurity
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// as takes a call's answer as T, the type a success (or the error
// named) decodes to, or fails the program saying what came instead.
func as[T any](what string) func(res any, err error) T {
	return func(res any, err error) T {
		if err != nil {
			fail("%s: %v", what, err)
		}
		v, ok := res.(T)
		if !ok {
			fail("%s: answered %T %+v", what, res, res)
		}
		return v
	}
}

func main() {
	ctx, url := context.Background(), os.Args[1]
	anon, err := wc.NewClient(url, token(""))
	if err != nil {
		fail("client: %v", err)
	}
	user := as[*wc.User]("register")(anon.Register(ctx, &wc.RegisterRequest{Username: "ogen", Email: "ogen@example.com", Password: "password-ogen"}))
	if user.Role != wc.RoleAdmin {
		fail("register: %+v, want the first user, an admin", user)
	}
	login := as[*wc.TokenResponse]("login")(anon.Login(ctx, &wc.LoginRequest{Username: "ogen", Password: "password-ogen"}))
	c, err := wc.NewClient(url, token(login.AccessToken))
	if err != nil {
		fail("client: %v", err)
	}

	created := as[*wc.Agent]("createAgent")(c.CreateAgent(ctx, &wc.AgentCreate{Name: "generated-by-ogen"}))
	if created.Status != wc.AgentStatusCreated {
		fail("createAgent: %+v", created)
	}
	id := created.ID
	as[*wc.MessageResponse]("startAgent")(c.StartAgent(ctx, wc.StartAgentParams{ID: id}))
	list := as[*wc.ListAgentsOKHeaders]("listAgents")(c.ListAgents(ctx, wc.ListAgentsParams{}))
	if !slices.ContainsFunc(list.Response, func(a wc.Agent) bool { return a.ID == id && a.Status == wc.AgentStatusRunning }) {
		fail("listAgents: %+v, want %s running", list.Response, id)
	}
	as[*wc.FileWritten]("putFile")(c.PutFile(ctx, &wc.PutFileReqApplicationOctetStream{Data: strings.NewReader("hello from ogen")}, wc.PutFileParams{ID: id, Path: "hello.txt"}))
	got := as[*wc.GetFileOKApplicationOctetStream]("getFile")(c.GetFile(ctx, wc.GetFileParams{ID: id, Path: "hello.txt"}))
	if b, err := io.ReadAll(got.Data); err != nil || string(b) != "hello from ogen" {
		fail("getFile: %q, %v", b, err)
	}
	missing := as[*wc.GetAgentNotFound]("getAgent of no agent")(c.GetAgent(ctx, wc.GetAgentParams{ID: "00000000-0000-4000-8000-000000000000"}))
	if missing.Detail == "" {
		fail("getAgent of no agent: no detail")
	}
	as[*wc.MessageResponse]("stopAgent")(c.StopAgent(ctx, wc.StopAgentParams{ID: id}))
	as[*wc.MessageResponse]("deleteAgent")(c.DeleteAgent(ctx, wc.DeleteAgentParams{ID: id}))
	as[*wc.GetAgentNotFound]("getAgent after deleteAgent")(c.GetAgent(ctx, wc.GetAgentParams{ID: id}))
	fmt.Println("the ogen client's flow passed")
}
`
