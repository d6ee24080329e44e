package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/cli"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
)

// mannersServer is a real server on the fake runtime, with root (the
// admin) and alice, who has a running agent "helper" and an agent named
// evil, stored as an older Warder let it be.
func mannersServer(t *testing.T, ports int) (base string, root, alice *apitest.Client, helper, evilID string, ts *apitest.Server) {
	cfg := apitest.Config(t)
	cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", ports, ports+99
	ts = apitest.Start(t, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		return fakeBackend{runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)}, nil
	}, nil)
	root = apitest.Register(t, ts.URL, "root")
	alice = apitest.Register(t, ts.URL, "alice")
	helper = alice.CreateAgent("helper").ID
	alice.MustDo("POST", "/api/agents/"+helper+"/start", nil, 200, nil)
	alice.WaitStatus(helper, 2*time.Second, apitest.Is(warder.StatusRunning))
	evilID = alice.CreateAgent("placeholder").ID
	ctx := context.Background()
	a, err := ts.App.Store().Agent(ctx, evilID)
	if err != nil {
		t.Fatal(err)
	}
	a.Name = evil
	if err := ts.App.Store().UpdateAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	return ts.URL, root, alice, helper, evilID, ts
}

// TestCLIOutputFormats: agents ls and inspect take -o json|yaml (ls:
// wide too, more columns) and --format with a Go template as docker's;
// --json still works; what the server sent is escaped in every form;
// bad values are usage errors (exit 2).
func TestCLIOutputFormats(t *testing.T) {
	base, _, alice, helper, _, _ := mannersServer(t, 21000)
	tok := alice.Token

	for _, args := range [][]string{{"agents", "ls", "-o", "json"}, {"agents", "ls", "--json"}, {"ps", "--output", "json"}} {
		code, out, errs := runOn(true, base, tok, args...)
		var list []warder.Agent
		if code != 0 || errs != "" || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[1].Name != evil || rawChars(out) != "" {
			t.Fatalf("%q: exit %d %q %q", args, code, out, errs)
		}
	}

	code, out, errs := runOn(true, base, tok, "agents", "ls", "-o", "yaml")
	if code != 0 || errs != "" || rawChars(out) != "" || !strings.HasPrefix(out, "- id: ") ||
		!strings.Contains(out, "  name: helper\n") || !strings.Contains(out, `  name: "evil\x1b]0;pwned\x07\u202egpj.exe\nforged-row\tcreated\u200b"`) ||
		!strings.Contains(out, "  status: running\n") || !strings.Contains(out, "  exit_code: null\n") || !strings.Contains(out, "  container_config:\n    image: ") {
		t.Fatalf("ls -o yaml: exit %d %q\n%s", code, errs, out)
	}
	if py, err := exec.LookPath("python3"); err == nil && exec.Command(py, "-c", "import yaml").Run() == nil {
		// PyYAML reads it back as the JSON says (YAML 1.1, near enough for these values).
		_, js, _ := runOn(false, base, tok, "agents", "ls", "-o", "json")
		f := filepath.Join(t.TempDir(), "ls.yaml")
		os.WriteFile(f, []byte(out), 0o600)
		cmd := exec.Command(py, "-c", `import sys, json, yaml
a = yaml.safe_load(open(sys.argv[1]))
b = json.loads(sys.stdin.read())
def norm(v): return json.loads(json.dumps(v, default=str))
sys.exit(0 if norm(a) == b else 1)`, f)
		cmd.Stdin = strings.NewReader(js)
		if outp, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("PyYAML does not read ls -o yaml as its JSON: %v %s\n%s", err, outp, out)
		}
	}

	code, out, _ = runOn(true, base, tok, "agents", "ls", "-o", "wide")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, col := range []string{"AGENT ID", "STATUS", "MEMORY", "CPUS", "NETWORK", "ISOLATION", "RESTARTS", "USER", "FULL ID", "REASON"} {
		if code != 0 || !strings.Contains(lines[0], col) {
			t.Fatalf("ls -o wide has no %s column: exit %d\n%s", col, code, out)
		}
	}
	if len(lines) != 3 || !strings.Contains(out, helper) || rawChars(out) != "" {
		t.Fatalf("ls -o wide:\n%s", out)
	}

	code, out, errs = runOn(true, base, tok, "agents", "ls", "--format", `{{.Name}}\t{{.Status}}{{if .ExitCode}} {{.ExitCode}}{{end}}`)
	if code != 0 || errs != "" || out != "helper\trunning\n"+evilShown+"\tcreated\n" {
		t.Fatalf("ls --format: exit %d %q\n%q", code, errs, out)
	}
	code, out, _ = runOn(true, base, tok, "agents", "ls", "--format", `{{json .Name}} {{upper .Status}} {{.ContainerConfig.Image}}`)
	if code != 0 || rawChars(out) != "" || !strings.HasPrefix(out, `"helper" RUNNING `) || !strings.Contains(out, `"evil\u001b]0;pwned\u0007\u202egpj.exe\nforged-row\tcreated\u200b" CREATED`) {
		t.Fatalf("ls --format with json: %q", out)
	}

	code, out, errs = runOn(true, base, tok, "agents", "inspect", "--format", "{{.ID}} {{.Name}}", "helper")
	if code != 0 || errs != "" || out != helper+" helper\n" {
		t.Fatalf("inspect --format: exit %d %q %q", code, out, errs)
	}
	code, out, _ = runOn(true, base, tok, "agents", "inspect", "-o", "yaml", "helper")
	// An id is quoted only when YAML would read it as something else (a
	// number, say), which depends on its first characters.
	quoted, plain := strings.HasPrefix(out, "- id: \""+helper+"\"\n"), strings.HasPrefix(out, "- id: "+helper+"\n")
	if code != 0 || !quoted && !plain || !strings.Contains(out, "\n  name: helper\n") {
		t.Fatalf("inspect -o yaml: %q", out)
	}
	code, out, _ = runOn(true, base, tok, "agents", "inspect", "-o", "json", "helper")
	var got []warder.Agent
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got[0].ID != helper {
		t.Fatalf("inspect -o json: %q", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agents", "ls", "-o", "xml"}, `-o takes json, yaml or wide, not "xml"`},
		{[]string{"agents", "inspect", "-o", "wide", "helper"}, "-o takes json or yaml here"},
		{[]string{"agents", "ls", "-o", "json", "--format", "{{.ID}}"}, "not both"},
		{[]string{"agents", "ls", "--format", "{{.ID"}, "--format:"},
		{[]string{"agents", "ls", "--format", "{{.Nope}}"}, "--format:"},
	} {
		code, _, errs := runOn(true, base, tok, c.args...)
		if code != cli.ExitUsage || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

// TestCLIStatusColumn: agents ls shows an exited agent as docker ps
// does, "exited (3) 5 seconds ago", and why it ended (REASON), cut
// short in the table and whole with -o wide.
func TestCLIStatusColumn(t *testing.T) {
	base, _, alice, _, evilID, ts := mannersServer(t, 21100)
	ctx := context.Background()
	a, err := ts.App.Store().Agent(ctx, evilID)
	if err != nil {
		t.Fatal(err)
	}
	three := 3
	a.Name, a.Status, a.ExitCode, a.StatusChangedAt = "quitter", warder.StatusExited, &three, time.Now().Add(-5*time.Second)
	a.StatusReason = "the agent's process exited with code 3 " + strings.Repeat("and a long story ", 6)
	if err := ts.App.Store().UpdateAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(base, alice.Token, "agents", "ls")
	if code != 0 || !regexp.MustCompile(`quitter +exited \(3\) [5-9] seconds ago +`).MatchString(out) ||
		!strings.Contains(out, "REASON") || !strings.Contains(out, "the agent's process exited with code 3 and") || !strings.Contains(out, "…") {
		t.Fatalf("agents ls:\n%s", out)
	}
	_, out, _ = run(base, alice.Token, "agents", "ls", "-o", "wide")
	if !strings.Contains(out, strings.TrimSpace(a.StatusReason)) {
		t.Fatalf("agents ls -o wide has not the whole reason:\n%s", out)
	}
}

// TestCLIMannersCommands: version and --version; completion scripts for
// bash (run in bash), zsh and fish; a mistyped command or subcommand is
// exit 2 with one line and a suggestion; rm refuses a running agent
// without -f (exit 7); exec of a command the image lacks points to the
// built-ins; events --json is one object a line; stats use binary units
// named as such; --tail all; the quota error in sizes as typed.
func TestCLIMannersCommands(t *testing.T) {
	base, root, alice, helper, _, _ := mannersServer(t, 21200)
	tok := alice.Token

	code, out, errs := run(base, tok, "version")
	if code != 0 || !strings.Contains(out, "Client:") || !strings.Contains(out, "Version:") || !strings.Contains(out, base) || !strings.Contains(out, "up") {
		t.Fatalf("version: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := run("http://127.0.0.1:1", tok, "version"); code != cli.ExitUnreachable || !strings.Contains(errs, "cannot reach") {
		t.Fatalf("version, no server: exit %d %q", code, errs)
	}
	if !strings.HasPrefix(cli.VersionLine(), "warder version ") {
		t.Fatalf("--version: %q", cli.VersionLine())
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agnets", "ls"}, `unknown command "agnets" (did you mean "agents"?)`},
		{[]string{"agents", "lss"}, `unknown agents subcommand "lss" (did you mean "ls"?)`},
		{[]string{"agents", "inspct", "helper"}, `(did you mean "inspect"?)`},
		{[]string{"completion", "bsh"}, `(did you mean "bash"?)`},
	} {
		code, out, errs := run(base, tok, c.args...)
		if code != cli.ExitUsage || out != "" || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, one line with %q", c.args, code, out, errs, c.want)
		}
	}
	if s := cli.DidYouMean("serv", "serve", "setup"); s != ` (did you mean "serve"?)` {
		t.Errorf("DidYouMean(serv) = %q", s)
	}
	if s := cli.DidYouMean("zzzzzz"); s != "" {
		t.Errorf("DidYouMean(zzzzzz) = %q", s)
	}

	_, script, _ := run(base, tok, "completion", "bash")
	complete := func(words ...string) string {
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `source /dev/stdin; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _warder; echo "${COMPREPLY[*]}"`, "x")
		cmd.Args = append(cmd.Args, words...)
		cmd.Stdin = strings.NewReader(script)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash completion %q: %v %s", words, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"warder", "ag"}, "agents"},
		{[]string{"warder", "ex"}, "exec"},
		{[]string{"warder", "agents", "l"}, "ls logs"},
		{[]string{"warder", "agents", "ls", "--for"}, "--format"},
		{[]string{"warder", "agents", "rm", "-"}, "--force --keep-snapshots -f"},
		{[]string{"warder", "agents", "logs", "--t"}, "--tail --timestamps"},
		{[]string{"warder", "completion", "f"}, "fish"},
	} {
		if got := complete(c.words...); got != c.want {
			t.Errorf("bash completion of %q: %q, want %q", c.words, got, c.want)
		}
	}
	for _, sh := range []string{"zsh", "fish"} {
		code, out, _ := run(base, tok, "completion", sh)
		if code != 0 || !strings.Contains(out, "agents") || !strings.Contains(out, "--format") && !strings.Contains(out, "-l format") {
			t.Errorf("completion %s: exit %d\n%s", sh, code, out)
		}
		if p, err := exec.LookPath(sh); err == nil {
			f := filepath.Join(t.TempDir(), "c."+sh)
			os.WriteFile(f, []byte(out), 0o600)
			if b, err := exec.Command(p, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v %s", sh, err, b)
			}
		}
	}

	code, _, errs = run(base, tok, "agents", "rm", "helper")
	if code != cli.ExitConflict || !strings.Contains(errs, "helper is running") || !strings.Contains(errs, "rm -f helper") {
		t.Fatalf("rm of a running agent: exit %d %q", code, errs)
	}
	alice.WaitStatus(helper, time.Second, apitest.Is(warder.StatusRunning))

	code, _, errs = run(base, tok, "exec", "helper", "sh")
	if code != 127 || !strings.Contains(errs, "sh could not be run in helper") || !strings.Contains(errs, "warder exec helper /warder-agent ls|cat|env") {
		t.Fatalf("exec sh: exit %d %q", code, errs)
	}
	if code, out, _ := run(base, tok, "exec", "helper", "/warder-agent", "echo", "hi"); code != 0 || out != "hi\n" {
		t.Fatalf("exec echo: exit %d %q", code, out)
	}

	code, out, errs = run(base, tok, "agents", "logs", "--tail", "all", "helper")
	if code != 0 {
		t.Fatalf("logs --tail all: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := run(base, tok, "agents", "logs", "--tail", "all", "-f", "nosuch"); code != cli.ExitNotFound {
		t.Fatalf("logs --tail all -f nosuch: exit %d %q", code, errs)
	}

	code, out, _ = run(base, tok, "agents", "stats", "--no-stream", "helper")
	if code != 0 || !regexp.MustCompile(`[0-9.]+(B|KiB|MiB|GiB) / [0-9.]+(B|KiB|MiB|GiB)`).MatchString(out) || strings.Contains(out, "MB") {
		t.Fatalf("stats: exit %d\n%s", code, out)
	}

	evCtx, stopEvents := context.WithCancel(context.Background())
	var evBuf syncBuffer
	evDone := make(chan struct{})
	go func() {
		env := map[string]string{"WARDER_URL": base, "WARDER_TOKEN": tok}
		c := &cli.CLI{Stdin: strings.NewReader(""), Stdout: &evBuf, Stderr: io.Discard,
			ConfigDir: "/nonexistent/warder-cli-test", Getenv: func(k string) string { return env[k] }}
		c.Run(evCtx, []string{"agents", "events", "--json"})
		close(evDone)
	}()
	time.Sleep(300 * time.Millisecond)
	if code, out, errs := run(base, tok, "agents", "rm", "-f", "helper"); code != 0 || out != "helper\n" {
		t.Fatalf("rm -f: exit %d %q %q", code, out, errs)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(evBuf.String(), `"to":"deleted"`); {
		time.Sleep(50 * time.Millisecond)
	}
	stopEvents()
	<-evDone
	evOut := evBuf.String()
	evLines := strings.Split(strings.TrimRight(evOut, "\n"), "\n")
	for _, l := range evLines {
		var e warder.StatusChange
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.AgentID != helper {
			t.Fatalf("events --json: a line that is not one change: %q (%v) in\n%s", l, err, evOut)
		}
	}
	if !strings.Contains(evOut, `"to":"deleted"`) {
		t.Fatalf("events --json:\n%s", evOut)
	}

	root.MustDo("PUT", "/api/admin/users/"+alice.UserID+"/limits", map[string]any{"agent_memory_bytes": 4 << 30}, 200, nil)
	code, _, errs = run(base, tok, "agents", "create", "big", "--memory", "8g")
	if code != cli.ExitConflict || !strings.Contains(errs, "memory_limit 8g is more than the 4g one agent may have") {
		t.Fatalf("quota: exit %d %q", code, errs)
	}

	// --egress: a word, or a list (which this server, with no egress
	// proxy, refuses saying so).
	code, out, errs = run(base, tok, "agents", "create", "shut", "--egress", "none", "--json")
	if code != 0 || !strings.Contains(out, `"egress": "none"`) && !strings.Contains(out, `"egress":"none"`) || !strings.Contains(out, `"internal"`) {
		t.Fatalf("--egress none: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := run(base, tok, "agents", "create", "listed", "--egress", "api.example.com:443,*.github.com"); code == 0 || !strings.Contains(errs, "no egress proxy") {
		t.Fatalf("--egress with a list and no proxy: exit %d %q", code, errs)
	}
}

// syncBuffer is a buffer one goroutine writes while another reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
