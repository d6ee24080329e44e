package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/cli"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/wire"
)

// syncBuffer is a buffer a command and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliUser runs warder's command line client in-process as one user: its
// own config dir, environment and standard input.
type cliUser struct {
	t   *testing.T
	dir string
	env map[string]string
}

func newCLIUser(t *testing.T) *cliUser {
	return &cliUser{t: t, dir: t.TempDir(), env: map[string]string{}}
}

// runCtx runs one command; it returns the exit code, stdout and stderr.
func (u *cliUser) runCtx(ctx context.Context, stdin string, args ...string) (int, string, string) {
	var out, errs syncBuffer
	c := &cli.CLI{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errs, ConfigDir: u.dir,
		Getenv: func(k string) string { return u.env[k] }}
	code := c.Run(ctx, args)
	return code, out.String(), errs.String()
}

func (u *cliUser) run(stdin string, args ...string) (int, string, string) {
	return u.runCtx(context.Background(), stdin, args...)
}

// ok runs a command that must succeed and returns its stdout.
func (u *cliUser) ok(args ...string) string {
	u.t.Helper()
	code, out, errs := u.run("", args...)
	if code != 0 {
		u.t.Fatalf("warder %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// fails runs a command that must fail with code, saying want in one line.
func (u *cliUser) fails(code int, want string, args ...string) {
	u.t.Helper()
	got, out, errs := u.run("", args...)
	if got != code || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "warder: ") {
		u.t.Fatalf("warder %s: exit %d, stderr %q (stdout %q); want exit %d and one line with %q", strings.Join(args, " "), got, errs, out, code, want)
	}
}

// TestCLI drives every command of the CLI against a real server and
// Docker, as a user at a shell would, checking tables, JSON, streams,
// exit codes and one-line errors.
func TestCLI(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	anon := client.New(ts.URL, "")
	for _, name := range []string{"root", "alice"} {
		if _, err := anon.Register(ctx, wire.RegisterRequest{Username: name, Email: name + "@example.com", Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
	}
	alice := newCLIUser(t)

	// Not signed in, then signed in; the token is kept 0600.
	alice.fails(cli.ExitUnauthorized, "not signed in", "agents", "ls")
	if code, out, errs := alice.run("correct horse\n", "login", ts.URL, "-u", "alice", "--password-stdin"); code != 0 || !strings.Contains(out, "Signed in to "+ts.URL+" as alice") {
		t.Fatalf("login: %d %s %s", code, out, errs)
	}
	st, err := os.Stat(filepath.Join(alice.dir, "config.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st, err)
	}
	if out := alice.ok("whoami"); out != "alice (user) on "+ts.URL+"\n" {
		t.Fatalf("whoami: %q", out)
	}
	if code, _, errs := alice.run("wrong password\n", "login", ts.URL, "-u", "alice", "--password-stdin"); code != cli.ExitUnauthorized || strings.Count(errs, "\n") != 1 {
		t.Fatalf("login with a wrong password: %d %q", code, errs)
	}
	alice.fails(cli.ExitUsage, "no password given", "login", ts.URL, "-u", "alice", "--password-stdin")

	// Create, list, inspect.
	alice.env["API_KEY"] = "s3cret-value"
	id := strings.TrimSpace(alice.ok("agents", "create", "helper", "--memory", "64m", "--cpus", "0.5", "-e", "A=1", "--secret", "API_KEY", "--model", "m1"))
	if len(id) != 36 {
		t.Fatalf("create printed %q, want the id", id)
	}
	if out := alice.ok("agents", "ls"); !strings.Contains(out, "AGENT ID") || !strings.Contains(out, id[:12]) || !strings.Contains(out, "helper") || !strings.Contains(out, "created") {
		t.Fatalf("ls:\n%s", out)
	}
	if out := alice.ok("ps", "-q"); out != id+"\n" {
		t.Fatalf("ps -q: %q", out)
	}
	var listed []*warder.Agent
	if err := json.Unmarshal([]byte(alice.ok("agents", "ls", "--json")), &listed); err != nil || len(listed) != 1 || listed[0].ID != id {
		t.Fatalf("ls --json: %v %+v", err, listed)
	}
	var inspected []*warder.Agent
	json.Unmarshal([]byte(alice.ok("agents", "inspect", id[:8])), &inspected)
	if len(inspected) != 1 || inspected[0].ContainerConfig.EnvVars["A"] != "1" || inspected[0].Config["model"] != "m1" ||
		strings.Join(inspected[0].ContainerConfig.SecretEnvNames, ",") != "API_KEY" || inspected[0].ContainerConfig.MemoryLimit != "64m" {
		t.Fatalf("inspect by id prefix: %+v", inspected)
	}

	// Lifecycle by name; events stream meanwhile.
	evctx, stopEvents := context.WithCancel(ctx)
	events := make(chan string, 1)
	go func() { _, out, _ := alice.runCtx(evctx, "", "agents", "events"); events <- out }()
	apitest.WaitMetric(t, ts.URL, `warder_http_streams_open{kind="events"}`, 1, 10*time.Second)
	if out := alice.ok("agents", "start", "helper"); out != "helper\n" {
		t.Fatalf("start: %q", out)
	}
	if out := alice.ok("agents", "ls"); !strings.Contains(out, "running") {
		t.Fatalf("ls after start:\n%s", out)
	}
	var logs string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs, "warder-agent"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q", logs)
		}
		_, logs, _ = alice.run("", "agents", "logs", "--tail", "20", "helper")
	}

	// Stats: one sample as a table and as JSON, then live for a while.
	if out := alice.ok("agents", "stats", "--no-stream", "helper"); !strings.Contains(out, "CPU %") || !strings.Contains(out, "/ 64MiB") {
		t.Fatalf("stats --no-stream:\n%s", out)
	}
	var sample []struct {
		Name  string           `json:"name"`
		Stats warder.StatsView `json:"stats"`
	}
	if err := json.Unmarshal([]byte(alice.ok("agents", "stats", "--no-stream", "--json")), &sample); err != nil || len(sample) != 1 || sample[0].Stats.MemoryLimitBytes != 64<<20 {
		t.Fatalf("stats --json: %v %+v", err, sample)
	}
	live, stopLive := context.WithTimeout(ctx, 3500*time.Millisecond)
	code, out, errs := alice.runCtx(live, "", "agents", "stats", "helper")
	stopLive()
	if code != 0 || strings.Count(out, "MEM USAGE / LIMIT") < 2 || !strings.Contains(out, "/ 64MiB") {
		t.Fatalf("live stats: exit %d\n%s%s", code, out, errs)
	}

	// Chat: one message, then a conversation from stdin.
	if out := alice.ok("agents", "chat", "helper", "hello", "there"); strings.TrimSpace(out) == "" {
		t.Fatalf("chat: %q", out)
	}
	if code, out, errs := alice.run("first\nsecond\n", "agents", "chat", "helper"); code != 0 || strings.Count(out, "\n") < 2 {
		t.Fatalf("chat from stdin: %d %q %q", code, out, errs)
	}
	var convs []*warder.Conversation
	tok := alice.tokenFor(t)
	convs, _ = client.New(ts.URL, tok).Conversations(ctx, id, 0)
	if len(convs) != 2 || convs[0].MessageCount != 4 {
		t.Fatalf("conversations after the chats: %+v", convs)
	}

	// pause and resume, as docker's: the name back, the status in inspect,
	// and a chat to the paused agent resumes it.
	if out := alice.ok("agents", "pause", "helper"); strings.TrimSpace(out) != "helper" {
		t.Fatalf("agents pause: %q", out)
	}
	if out := alice.ok("agents", "inspect", "--format", "{{.Status}}", "helper"); strings.TrimSpace(out) != "paused" {
		t.Fatalf("inspect of a paused agent: %q", out)
	}
	alice.ok("agents", "resume", "helper")
	if out := alice.ok("agents", "inspect", "--format", "{{.Status}}", "helper"); strings.TrimSpace(out) != "running" {
		t.Fatalf("inspect of a resumed agent: %q", out)
	}

	// logs -f ends when the agent stops.
	followed := make(chan [3]string, 1)
	go func() {
		code, out, errs := alice.run("", "agents", "logs", "-f", "helper")
		followed <- [3]string{string(rune('0' + code)), out, errs}
	}()
	apitest.WaitMetric(t, ts.URL, `warder_http_streams_open{kind="logs"}`, 1, 10*time.Second)
	alice.ok("agents", "stop", "helper")
	select {
	case r := <-followed:
		if r[0] != "0" || !strings.Contains(r[1], "warder-agent") {
			t.Fatalf("logs -f: %q", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f went on after the agent stopped")
	}
	stopEvents()
	if out := <-events; !strings.Contains(out, "helper") || !strings.Contains(out, "→ running") || !strings.Contains(out, "→ stopped") {
		t.Fatalf("events:\n%s", out)
	}
	alice.fails(cli.ExitConflict, "not running", "agents", "stats", "--no-stream", "--json", "helper")

	// Keys: made, listed, refused when read-only, revoked.
	key := strings.TrimSpace(alice.ok("keys", "create", "ci", "--read-only"))
	if !strings.HasPrefix(key, "wdk_") {
		t.Fatalf("keys create: %q", key)
	}
	if out := alice.ok("keys", "ls"); !strings.Contains(out, "ci") || !strings.Contains(out, "true") {
		t.Fatalf("keys ls:\n%s", out)
	}
	ro := newCLIUser(t)
	ro.env["WARDER_URL"], ro.env["WARDER_TOKEN"] = ts.URL, key
	ro.ok("agents", "ls")
	ro.fails(cli.ExitForbidden, "read-only", "agents", "start", "helper")
	var keys []*warder.APIKey
	json.Unmarshal([]byte(alice.ok("keys", "ls", "--json")), &keys)
	alice.ok("keys", "rm", keys[0].ID)
	ro.fails(cli.ExitUnauthorized, "warder login", "agents", "ls")

	// Mistakes and failures: exit codes and one line each.
	alice.fails(cli.ExitNotFound, `no agent "nosuch"`, "agents", "start", "nosuch")
	alice.fails(cli.ExitUsage, "needs a name", "agents", "create")
	alice.fails(cli.ExitUsage, "--tail takes", "agents", "logs", "--tail", "x", "helper")
	alice.fails(cli.ExitUsage, "flag provided but not defined: -bogus", "agents", "ls", "--bogus")
	alice.fails(cli.ExitUsage, `unknown command "nope"`, "nope")
	alice.fails(cli.ExitUsage, "never the command line", "agents", "create", "x", "--secret", "K=v")
	alice.fails(cli.ExitNotFound, `warder: nosuch: no agent "nosuch"`, "agents", "start", "helper", "nosuch")
	alice.fails(cli.ExitForbidden, "admin", "users", "ls")
	dead := newCLIUser(t)
	dead.env["WARDER_URL"], dead.env["WARDER_TOKEN"] = "http://127.0.0.1:1", "x"
	dead.fails(cli.ExitUnreachable, "cannot reach the Warder server at http://127.0.0.1:1", "whoami")

	// Admin commands, as root through WARDER_TOKEN.
	root := newCLIUser(t)
	rt, err := anon.Login(ctx, "root", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	root.env["WARDER_URL"], root.env["WARDER_TOKEN"] = ts.URL, rt.AccessToken
	if out := root.ok("users", "ls"); !strings.Contains(out, "alice") || !strings.Contains(out, "admin") {
		t.Fatalf("users ls:\n%s", out)
	}
	if out := root.ok("users", "limits", "alice", "--running", "3"); !strings.Contains(out, "running agents") || !strings.Contains(out, "3") {
		t.Fatalf("users limits:\n%s", out)
	}
	if out := root.ok("status"); !strings.Contains(out, "Users:") || !strings.Contains(out, "running 1") { // started again by "start helper nosuch"
		t.Fatalf("status:\n%s", out)
	}
	if out := root.ok("audit", "--user", "alice", "--limit", "5"); !strings.Contains(out, "POST /api/agents/{id}/stop") {
		t.Fatalf("audit:\n%s", out)
	}
	if out := root.ok("agents", "ls"); !strings.Contains(out, "helper") {
		t.Fatalf("root's ls:\n%s", out)
	}

	// sh on the default image, which has no /bin/sh, is its own shell
	// (warder-agent sh). All lines of the logs.
	if out := alice.ok("exec", "helper", "sh", "-c", "X=hi; echo $X && cd /data && pwd"); out != "hi\n/data\n" {
		t.Fatalf("exec sh -c: %q", out)
	}
	if out := alice.ok("agents", "logs", "--tail", "all", "helper"); !strings.Contains(out, "warder-agent") {
		t.Fatalf("logs --tail all: %q", out)
	}

	// Remove (a running agent only with -f), then log out.
	alice.fails(cli.ExitConflict, "rm -f helper", "agents", "rm", "helper")
	alice.ok("agents", "rm", "-f", "helper")
	alice.fails(cli.ExitNotFound, `no agent "helper"`, "agents", "inspect", "helper")
	if out := alice.ok("logout"); out != "Signed out of "+ts.URL+"\n" {
		t.Fatalf("logout: %q", out)
	}
	if _, err := os.Stat(filepath.Join(alice.dir, "config.json")); !os.IsNotExist(err) {
		t.Fatalf("config after logout: %v", err)
	}
	alice.fails(cli.ExitUnauthorized, "not signed in", "whoami")
	if _, err := client.New(ts.URL, tok).Me(ctx); client.StatusOf(err) != 401 {
		t.Fatalf("the token after logout: %v", err)
	}
}

// tokenFor is the token the user's login saved.
func (u *cliUser) tokenFor(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(u.dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Token string }
	json.Unmarshal(b, &cfg)
	return cfg.Token
}
