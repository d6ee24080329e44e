package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/cli"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
)

// fakeBackend is the fake runtime as app holds one.
type fakeBackend struct{ *runtimetest.Fake }

func (fakeBackend) Close() error { return nil }

// run runs the command line client once as the user whose token this
// is, against the server at base; it returns the exit code, stdout and
// stderr.
func run(base, token string, args ...string) (int, string, string) {
	var out, errs bytes.Buffer
	env := map[string]string{"WARDER_URL": base, "WARDER_TOKEN": token}
	c := &cli.CLI{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs,
		ConfigDir: "/nonexistent/warder-cli-test", Getenv: func(k string) string { return env[k] }}
	code := c.Run(context.Background(), args)
	return code, out.String(), errs.String()
}

// TestAgentsListPages: warder agents ls takes --status, --name,
// --name-prefix, --user and pages with --limit and --cursor, telling on
// stderr how to get the next page; bad values are usage errors or the
// server's 400, with exit codes to match. On the fake runtime: no Docker.
func TestAgentsListPages(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", 20200, 20299
	ts := apitest.Start(t, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		return fakeBackend{runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd)}, nil
	}, nil)
	root := apitest.Register(t, ts.URL, "root")
	alice := apitest.Register(t, ts.URL, "alice")
	var ids []string
	for i := range 5 {
		ids = append(ids, alice.CreateAgent(fmt.Sprintf("web-%d", i)).ID)
	}
	alice.CreateAgent("db")
	alice.MustDo("POST", "/api/agents/"+ids[1]+"/start", nil, 200, nil)
	alice.WaitStatus(ids[1], 2*time.Second, apitest.Is(warder.StatusRunning))

	// Pages of two, by the cursor printed on stderr.
	var got []string
	args := []string{"agents", "ls", "-q", "--name-prefix", "web-", "--limit", "2"}
	for range 10 {
		code, out, errs := run(ts.URL, alice.Token, args...)
		if code != 0 {
			t.Fatalf("warder %s: exit %d %s", strings.Join(args, " "), code, errs)
		}
		got = append(got, strings.Fields(out)...)
		if errs == "" {
			break
		}
		cursor, ok := strings.CutPrefix(strings.TrimSpace(errs), "more agents: add --cursor ")
		if !ok {
			t.Fatalf("stderr %q", errs)
		}
		args = append(args[:7:7], "--cursor", cursor)
	}
	if strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Fatalf("paged ids %q, want %q", got, ids)
	}

	for _, c := range []struct {
		who  *apitest.Client
		args []string
		want []string // names in the table, in order
	}{
		{alice, []string{"--status", "running"}, []string{"web-1"}},
		{alice, []string{"--status", "created,running", "--name-prefix", "web-", "--limit", "1000"}, []string{"web-0", "web-1", "web-2", "web-3", "web-4"}},
		{alice, []string{"--status", "running", "--status", "created", "--name", "db"}, []string{"db"}},
		{root, []string{"--user", alice.UserID, "--name", "web-3"}, []string{"web-3"}},
	} {
		code, out, errs := run(ts.URL, c.who.Token, append([]string{"agents", "ls"}, c.args...)...)
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			names = append(names, strings.Fields(line)[1])
		}
		if code != 0 || errs != "" || strings.Join(names, " ") != strings.Join(c.want, " ") {
			t.Errorf("agents ls %q: exit %d, names %q (stderr %q), want %q", c.args, code, names, errs, c.want)
		}
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--limit", "0"}, cli.ExitUsage, "--limit must be between 1 and 1000"},
		{[]string{"--limit", "1001"}, cli.ExitUsage, "--limit must be between 1 and 1000"},
		{[]string{"--status", "bogus"}, cli.ExitFailed, `status "bogus" is not an agent status`},
		{[]string{"--cursor", "forged"}, cli.ExitFailed, "cursor"},
		{[]string{"--user", root.UserID}, cli.ExitForbidden, "only admins"},
	} {
		code, _, errs := run(ts.URL, alice.Token, append([]string{"agents", "ls"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("agents ls %q: exit %d, stderr %q; want exit %d with %q", c.args, code, errs, c.code, c.want)
		}
	}
}
