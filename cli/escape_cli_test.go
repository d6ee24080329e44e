package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/cli"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
)

// evil is an agent name stored before names were checked: it sets the
// terminal's title, reverses what follows it, and forges a table row.
const evil = "evil\x1b]0;pwned\x07\u202egpj.exe\nforged-row\tcreated\u200b"

// evilShown is evil as the CLI must show it.
const evilShown = `evil\x1b]0;pwned\x07\u202egpj.exe\nforged-row\tcreated\u200b`

// rawChars are what must never reach the terminal from the server.
func rawChars(s string) string {
	var found []string
	for _, r := range s {
		if r == '\x1b' || r == '\x07' || r == '\u202e' || r == '\u200b' {
			found = append(found, fmt.Sprintf("%U", r))
		}
	}
	return strings.Join(found, " ")
}

// runOn is run with stdout a terminal or not.
func runOn(tty bool, base, token string, args ...string) (int, string, string) {
	var out, errs bytes.Buffer
	env := map[string]string{"WARDER_URL": base, "WARDER_TOKEN": token}
	c := &cli.CLI{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs, Terminal: func() bool { return tty },
		ConfigDir: "/nonexistent/warder-cli-test", Getenv: func(k string) string { return env[k] }}
	code := c.Run(context.Background(), args)
	return code, out.String(), errs.String()
}

// TestCLIEscapesServerText: an agent name already stored with a terminal
// escape sequence, a bidi override, a zero-width space, a tab and a line
// break (on the real server, written to its store as an older Warder
// let it be) is shown escaped in agents ls, in one row, and as JSON
// with --json that still decodes to the name; stats tables too.
func TestCLIEscapesServerText(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", 20800, 20899
	ts := apitest.Start(t, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		return fakeBackend{runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)}, nil
	}, nil)
	apitest.Register(t, ts.URL, "root")
	alice := apitest.Register(t, ts.URL, "alice")
	id := alice.CreateAgent("placeholder").ID
	ctx := context.Background()
	a, err := ts.App.Store().Agent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	a.Name = evil
	if err := ts.App.Store().UpdateAgent(ctx, a); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runOn(true, ts.URL, alice.Token, "agents", "ls")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || errs != "" || len(lines) != 2 || !strings.Contains(lines[1], evilShown) {
		t.Fatalf("agents ls: exit %d, stderr %q, stdout:\n%s\nwant two lines, the second with %s", code, errs, out, evilShown)
	}
	if raw := rawChars(out); raw != "" {
		t.Fatalf("agents ls prints %s raw:\n%q", raw, out)
	}

	code, out, _ = runOn(false, ts.URL, alice.Token, "agents", "ls", "--json")
	var list []warder.Agent
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Name != evil {
		t.Fatalf("agents ls --json: exit %d, %q", code, out)
	}
	if raw := rawChars(out); raw != "" {
		t.Fatalf("agents ls --json prints %s raw:\n%q", raw, out)
	}

	alice.MustDo("POST", "/api/agents/"+id+"/start", nil, 200, nil)
	code, out, errs = runOn(true, ts.URL, alice.Token, "agents", "stats", "--no-stream", id)
	if raw := rawChars(out + errs); code != 0 || raw != "" || !strings.Contains(out, `\x1b]0;pwned\x07`) {
		t.Fatalf("agents stats: exit %d, %s raw in %q / %q", code, raw, out, errs)
	}
}

// TestCLIEscapesErrorsAndOutput: what a server answers (an error's
// detail, a stream's end, a model's answer, an agent's logs) reaches the
// terminal escaped; logs piped to a file, or with --raw, stay as the
// agent wrote them, as docker logs writes them.
func TestCLIEscapesErrorsAndOutput(t *testing.T) {
	agent := `[{"id":"0a1b2c3d-0000-4000-8000-000000000001","name":"helper","status":"running","user_id":"u","container_config":{}}]`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/agents", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, agent) })
	mux.HandleFunc("POST /api/agents/{id}/start", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"detail":"cannot start \u001b]0;pwned\u0007\u001b[2J\u202eit"}`)
	})
	mux.HandleFunc("GET /api/agents/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"stream\":\"stdout\",\"line\":\"\\u001b[31mred\\u001b[0m\\tcol\"}\n\n")
		fmt.Fprint(w, "event: end\ndata: {\"reason\":\"gone\\u001b]0;pwned\\u0007\"}\n\n")
	})
	mux.HandleFunc("POST /api/agents/{id}/chat", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"content\":\"line one\\n\\u001b]0;pwned\\u0007two\"}\n\n")
		fmt.Fprint(w, "event: done\ndata: {\"conversation_id\":\"c\",\"content\":\"x\"}\n\n")
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	code, out, errs := runOn(true, ts.URL, "tok", "agents", "start", "helper")
	if code != cli.ExitConflict || rawChars(out+errs) != "" || !strings.Contains(errs, `cannot start \x1b]0;pwned\x07\x1b[2J\u202eit`) {
		t.Errorf("an error's detail: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	code, out, errs = runOn(true, ts.URL, "tok", "agents", "logs", "helper")
	if rawChars(out+errs) != "" || out != "\\x1b[31mred\\x1b[0m\tcol\n" {
		t.Errorf("logs on a terminal: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, c := range []struct {
		tty  bool
		args []string
	}{{false, nil}, {true, []string{"--raw"}}} {
		_, out, _ = runOn(c.tty, ts.URL, "tok", append([]string{"agents", "logs", "helper"}, c.args...)...)
		if out != "\x1b[31mred\x1b[0m\tcol\n" {
			t.Errorf("logs (terminal %v, %q): stdout %q, want the agent's bytes", c.tty, c.args, out)
		}
	}

	_, out, errs = runOn(true, ts.URL, "tok", "agents", "chat", "helper", "hi")
	if rawChars(out+errs) != "" || !strings.Contains(out, "line one\n\\x1b]0;pwned\\x07two") {
		t.Errorf("chat: stdout %q, stderr %q", out, errs)
	}
}
