// Package cli is Warder's command line client, in the same binary as the
// server: `warder login`, `warder agents ls`, `warder agents logs -f`, ...
// It talks to a server over HTTP with package client, as docker talks to
// its engine, and keeps the server's URL and the token in the user's
// config directory.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/warder/warder/client"
)

// Exit codes scripts can rely on.
const (
	ExitOK           = 0
	ExitFailed       = 1 // any other failure
	ExitUsage        = 2 // a bad command, flag or argument
	ExitUnreachable  = 3 // the server could not be reached
	ExitUnauthorized = 4 // not signed in, or the token was refused (401)
	ExitForbidden    = 5 // signed in, but not allowed (403)
	ExitNotFound     = 6 // no such agent, key or user (404)
	ExitConflict     = 7 // refused by the agent's state or a quota (409)
)

// Commands are the first words the CLI answers; main sends these here
// and keeps the server's own (serve, setup, migrate, ...).
var Commands = []string{"login", "logout", "whoami", "agents", "agent", "ps", "cp", "exec", "keys", "users", "status", "usage", "audit", "mcp"}

// IsCommand reports whether name is one of Commands.
func IsCommand(name string) bool {
	for _, c := range slices.Concat(Commands, moreCommands) {
		if c == name {
			return true
		}
	}
	return false
}

// CLI is one run of the command line client. The zero value reads the
// process's environment and streams; tests set what they need.
type CLI struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads WARDER_URL, WARDER_TOKEN and, through the config dir,
	// XDG_CONFIG_HOME; nil is os.Getenv.
	Getenv func(string) string
	// ConfigDir holds config.json; "" is the user's config dir + /warder.
	ConfigDir string
	// HTTP sends the requests; nil is a client without an overall timeout
	// (streams last as long as they are read).
	HTTP *http.Client
	// Terminal says stdout is a terminal: live tables redraw in place and
	// chat prompts. nil asks the OS.
	Terminal func() bool
}

// usageError is a mistake in the command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: warder <command> [flags]

Talk to a Warder server (WARDER_URL and WARDER_TOKEN override what login saved):
  login [URL]                    sign in; the URL and token are kept in ~/.config/warder (0600)
  logout                         revoke the token and forget it
  whoami                         who the token belongs to, and where
  agents ls [-q] [-o json|yaml|wide] [--format TEMPLATE] [--watch] [--status running,...] [--name N]
            [--name-prefix P] [--user ID] [--limit N [--cursor C]]   (a page; the next --cursor goes to stderr)
  agents create [NAME] [--image I] [--memory 512m] [--cpus 0.5] [-e KEY=VAL]... [--secret KEY]...
                [--network egress|internal] [--egress none|all|DEST,...] [--port N] [-f agent.json] [--start]
  agents inspect [-o yaml] [--format TEMPLATE] AGENT...   the agents as JSON (or YAML, or a template each)
  agents start|stop|restart|pause|resume AGENT...
  agents rm [-f] [--keep-snapshots] AGENT...   -f: a running agent too
  agents logs [-f] [--tail N|all] [--since 10m] [-t] [--raw] AGENT
  agents stats [--no-stream] [--json] [AGENT...]
  agents events [--json]         status changes as they happen (--json: one object a line)
  agents chat AGENT [MESSAGE]    one message, or a conversation read from stdin
  agents snapshot AGENT NAME     save the workspace and settings; -d AGENT SNAPSHOT deletes one
  agents snapshots AGENT [--json]   the agent's snapshots, oldest first, with their sizes
  agents restore AGENT SNAPSHOT  put the workspace back to a snapshot (a running agent is restarted)
  agents fork AGENT NAME [--snapshot S] [--start]   a new agent with the settings and a copy of the workspace
  agents usage AGENT [--json]    the agent's LLM gateway tokens today and this month, by model, and its budgets
  ps                             agents ls
  cp SRC DEST                    copy files to or from an agent's workspace (/data): one side is AGENT:PATH;
                                 a directory goes by its name, - is a tar on stdin or stdout
  exec [-i] [-e K=V]... [--timeout 30s] [--raw] AGENT [--] CMD [ARG...]
                                 run a command in a running agent; its exit code is ours (124: timed out).
                                 The default image has built-ins: /warder-agent ls|cat|env|echo|mkdir|rm|du|write|sleep|tick
  exec -it AGENT [CMD [ARG...]]  an interactive terminal: CMD, else the image's /bin/sh (the default image: warder-agent sh);
                                 Ctrl-C and Ctrl-D go to the command, resizes follow; -t alone: no input
  keys ls | create NAME [--read-only] [--expires-days N] | rm ID
  users ls | create NAME EMAIL | disable USER | enable USER | limits USER [--agents N ...] [--llm-tokens-day N ...]   (admins)
  status                         the server's health and use (admins)
  usage [--json]                 LLM gateway tokens today and this month, by agent, with the budgets (admins: everyone's)
  version                        this client's version, and the server's address
  completion bash|zsh|fish       a shell completion script (source <(warder completion bash))
  audit [--user U] [--agent A] [--since T] [--limit N]   (admins)
  mcp                            serve MCP tools (agents, exec, files, chat, logs) on stdin/stdout for an AI agent

AGENT is an id, a unique id prefix, or a name. Add --json for JSON where it applies.
--format runs a Go template on each item, as docker's does: '{{.Name}}\t{{.Status}}', '{{json .}}'.
What the server sends is shown with control, bidi and zero-width characters escaped (\x1b, \u202e);
an agent's logs and exec output too when they go to a terminal, unless --raw.
Exit codes: 0 ok, 1 failed, 2 usage, 3 server unreachable, 4 not signed in,
5 forbidden, 6 not found, 7 conflict.

Run the server: warder serve (see warder help).`

// Run runs one command (args without the program's name) and returns the
// exit code; every error is one line on Stderr.
func (c *CLI) Run(ctx context.Context, args []string) int {
	c.defaults()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(c.Stdout, usage)
		return ExitOK
	}
	err := c.dispatch(ctx, args[0], args[1:])
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.msg != "" {
			fmt.Fprintln(c.Stderr, "warder: "+escape(ec.msg))
		}
		return ec.code
	}
	code, line := c.explain(err)
	var p *partial
	if !errors.As(err, &p) { // a partial failure was reported agent by agent
		fmt.Fprintln(c.Stderr, "warder: "+escape(line))
	}
	return code
}

func (c *CLI) defaults() {
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, ResponseHeaderTimeout: 5 * time.Minute}}
	}
	if c.Terminal == nil {
		c.Terminal = func() bool { return isTerminal(c.Stdout) }
	}
}

func (c *CLI) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "version":
		return c.version(ctx, args)
	case "completion":
		return c.completion(args)
	case "login":
		return c.login(ctx, args)
	case "logout":
		return c.logout(ctx, args)
	case "whoami":
		return c.whoami(ctx, args)
	case "ps":
		return c.agentsList(ctx, args)
	case "agents", "agent":
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(c.Stdout, usage)
			return nil
		}
		if len(args) == 0 {
			return usagef("agents needs a subcommand: ls, create, inspect, start, stop, restart, pause, resume, rm, logs, stats, events, chat, usage, snapshot, snapshots, restore or fork")
		}
		return c.agents(ctx, args[0], args[1:])
	case "cp":
		return c.cp(ctx, args)
	case "exec":
		return c.exec(ctx, args)
	case "keys":
		return c.keys(ctx, args)
	case "users":
		return c.users(ctx, args)
	case "status":
		return c.status(ctx, args)
	case "usage":
		return c.usage(ctx, args)
	case "audit":
		return c.audit(ctx, args)
	case "mcp":
		return c.mcpCmd(ctx, args)
	}
	return usagef("unknown command %q%s; see warder help", cmd, didYouMean(cmd, slices.Concat(Commands, moreCommands)))
}

func (c *CLI) agents(ctx context.Context, sub string, args []string) error {
	switch sub {
	case "ls", "list", "ps":
		return c.agentsList(ctx, args)
	case "create":
		return c.agentsCreate(ctx, args)
	case "inspect":
		return c.agentsInspect(ctx, args)
	case "start", "stop", "restart", "pause", "resume", "rm", "delete":
		return c.agentsLifecycle(ctx, sub, args)
	case "logs":
		return c.agentsLogs(ctx, args)
	case "stats":
		return c.agentsStats(ctx, args)
	case "events":
		return c.agentsEvents(ctx, args)
	case "chat":
		return c.agentsChat(ctx, args)
	case "usage":
		return c.agentsUsage(ctx, args)
	}
	if ok, err := c.agentsSnapshots(ctx, sub, args); ok { // snapshots.go
		return err
	}
	return usagef("unknown agents subcommand %q%s: ls, create, inspect, start, stop, restart, pause, resume, rm, logs, stats, events, chat, usage, snapshot, snapshots, restore or fork", sub, didYouMean(sub, agentsSubcommands))
}

// explain turns err into an exit code and one line naming what to do;
// the line may hold what the server said, raw: escape it to print it.
func (c *CLI) explain(err error) (int, string) {
	var p *partial
	if errors.As(err, &p) {
		code, _ := c.explain(p.first)
		return code, p.Error()
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage, ue.msg
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		detail := oneLine(ce.Detail)
		switch ce.Status {
		case http.StatusUnauthorized:
			return ExitUnauthorized, detail + " (sign in again: warder login)"
		case http.StatusForbidden:
			return ExitForbidden, detail
		case http.StatusNotFound:
			return ExitNotFound, detail
		case http.StatusConflict:
			return ExitConflict, detail
		case http.StatusTooManyRequests:
			if ce.RetryAfter > 0 {
				return ExitFailed, fmt.Sprintf("%s (try again in %s)", detail, ce.RetryAfter)
			}
		}
		return ExitFailed, detail
	}
	var cf *conflict
	if errors.As(err, &cf) {
		return ExitConflict, cf.msg
	}
	var ne *notSignedIn
	if errors.As(err, &ne) {
		return ExitUnauthorized, ne.Error()
	}
	var nf *notFound
	if errors.As(err, &nf) {
		return ExitNotFound, nf.Error()
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return ExitUnreachable, fmt.Sprintf("cannot reach the Warder server at %s: %s (is it running? set WARDER_URL or run warder login URL)", c.serverURL(), rootCause(err))
	}
	if errors.Is(err, context.Canceled) {
		return ExitFailed, "interrupted"
	}
	return ExitFailed, oneLine(err.Error())
}

// rootCause is the innermost message of err, without Go's call chain.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return oneLine(err.Error())
		}
		err = next
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// flags is a FlagSet for one command, whose errors are usage errors and
// whose help goes to Stdout.
func (c *CLI) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(c.Stdout, "usage: warder %s\n", synopsis)
		fs.SetOutput(c.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse reads flags anywhere among the arguments, as docker does, and
// returns the other arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	help := fs.Usage
	fs.Usage = func() {} // a mistake is one line; only -h prints the usage
	defer func() { fs.Usage = help }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
				return nil, err
			}
			return nil, usagef("%s: %v (see warder %s -h)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
