package api_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
	// The generated client's one dependency: imported here so that go.mod
	// requires it and the module cache holds it for TestOpenAPIGoClient,
	// which builds offline.
	_ "github.com/oapi-codegen/runtime"
)

// TestOpenAPIGoClient generates a Go client from the document a real
// Warder serves, with oapi-codegen as a library (the version go.mod
// pins), builds it with go vet in a module of its own, offline from the
// module cache, and runs a program written against it: register, log in,
// create, start, list, write and read a file, a 404 as the named error,
// stop, delete. When /api/agents and /api/agents/ shared an operationId,
// the generated code declared GetApiAgentsParams twice and did not build.
func TestOpenAPIGoClient(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, to build the generated client: %v", err)
	}
	s := newAPIServer(t)
	resp, err := http.Get(s.URL + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg := codegen.Configuration{PackageName: "warderclient", Generate: codegen.GenerateOptions{Client: true, Models: true}}.UpdateDefaults()
	code, err := codegen.Generate(doc, cfg)
	if err != nil {
		t.Fatalf("oapi-codegen: %v", err)
	}

	// The module is this repository's go.mod and go.sum under another
	// name, so every module it needs is one this repository's own build
	// brought into the cache.
	dir := t.TempDir()
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module example.com/flow"))
	sum, err := os.ReadFile("../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "warderclient"), 0o755)
	for name, body := range map[string][]byte{"go.mod": mod, "go.sum": sum, "main.go": []byte(flowProgram), "warderclient/client.gen.go": []byte(code)} {
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
	run("run", ".", s.URL)
}

// flowProgram is a new user's program against the generated client; it
// exits non-zero, saying why, at the first answer that is not as it
// should be.
const flowProgram = `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	wc "example.com/flow/warderclient"
)

type answer interface{ StatusCode() int }

func check(what string, r answer, err error, want int, ok bool) {
	if err != nil {
		fail("%s: %v", what, err)
	}
	if r.StatusCode() != want || !ok {
		fail("%s: %d, want %d", what, r.StatusCode(), want)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	ctx, url := context.Background(), os.Args[1]
	anon, err := wc.NewClientWithResponses(url)
	if err != nil {
		fail("client: %v", err)
	}
	reg, err := anon.RegisterWithResponse(ctx, wc.RegisterRequest{Username: "gen", Email: "gen@example.com", Password: "password-gen"})
	check("register", reg, err, 201, reg != nil && reg.JSON201 != nil && reg.JSON201.Role == wc.RoleAdmin)
	login, err := anon.LoginWithResponse(ctx, wc.LoginRequest{Username: "gen", Password: "password-gen"})
	check("login", login, err, 200, login != nil && login.JSON200 != nil && login.JSON200.AccessToken != "")
	bearer := wc.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+login.JSON200.AccessToken)
		return nil
	})
	c, _ := wc.NewClientWithResponses(url, bearer)

	created, err := c.CreateAgentWithResponse(ctx, wc.AgentCreate{Name: "generated"})
	check("createAgent", created, err, 201, created != nil && created.JSON201 != nil && created.JSON201.Status == wc.Created)
	id := created.JSON201.Id
	started, err := c.StartAgentWithResponse(ctx, id)
	check("startAgent", started, err, 200, started != nil && started.JSON200 != nil)
	list, err := c.ListAgentsWithResponse(ctx, nil)
	check("listAgents", list, err, 200, list != nil && list.JSON200 != nil &&
		slices.ContainsFunc(*list.JSON200, func(a wc.Agent) bool { return a.Id == id }))
	put, err := c.PutFileWithBodyWithResponse(ctx, id, "hello.txt", nil, "application/octet-stream", strings.NewReader("hello"))
	check("putFile", put, err, 200, put != nil && put.JSON200 != nil)
	got, err := c.GetFileWithResponse(ctx, id, "hello.txt", nil)
	check("getFile", got, err, 200, got != nil && string(got.Body) == "hello")
	missing, err := c.GetAgentWithResponse(ctx, "00000000-0000-4000-8000-000000000000")
	check("getAgent of no agent", missing, err, 404, missing != nil && missing.JSON404 != nil && missing.JSON404.Detail != "")
	stopped, err := c.StopAgentWithResponse(ctx, id)
	check("stopAgent", stopped, err, 200, stopped != nil)
	deleted, err := c.DeleteAgentWithResponse(ctx, id, nil)
	check("deleteAgent", deleted, err, 200, deleted != nil)
	fmt.Println("the generated client's flow passed")
}
`
