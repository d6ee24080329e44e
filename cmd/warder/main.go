// Command warder runs the Warder control plane and its admin tasks, and
// is its command line client (package cli): login, agents, keys, ...
//
//	warder serve                   run the API server (the default)
//	warder setup                   create the agent network and build the agent image
//	warder migrate                 bring the database schema up to date
//	warder role USERNAME ROLE      make a user an admin (or a user again)
//	warder rotate-secrets          re-seal every agent's secrets with WARDER_SECRET_KEY
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/warder/warder/cli"
	"github.com/warder/warder/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(cli.VersionLine())
		os.Exit(0)
	}
	if len(os.Args) > 1 && !known(os.Args[1]) {
		fmt.Fprintf(os.Stderr, "warder: unknown command %q%s; see warder help\n", os.Args[1], cli.DidYouMean(os.Args[1], serverCommands...))
		os.Exit(cli.ExitUsage)
	}
	if len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
		code := (&cli.CLI{}).Run(ctx, os.Args[1:])
		stop()
		os.Exit(code)
	}
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "warder:", err)
		os.Exit(1)
	}
}

// serverCommands are main's own commands (run).
var serverCommands = []string{"serve", "setup", "migrate", "role", "rotate-secrets", "help"}

// known reports whether arg may start a command line: a command, or a
// flag (of serve, the default).
func known(arg string) bool {
	return arg == "" || arg[0] == '-' || cli.IsCommand(arg) || slices.Contains(serverCommands, arg)
}

const usage = `usage: warder <command> [flags]

commands:
  serve                  run the API server (default)
  setup                  create the agent network and build the default agent image
  migrate                bring the database schema up to date
  role USERNAME ROLE     set a user's role to admin or user
  rotate-secrets         re-seal agents' secrets with WARDER_SECRET_KEY (old key in WARDER_SECRET_KEY_PREVIOUS)

client commands, to a server over HTTP (warder login first; warder agents help):
  login, logout, whoami, cp, exec, version, completion (bash, zsh, fish),
  agents (ls, create, inspect, start, stop, restart, rm,
  logs, stats, events, chat), ps, keys, users, status, audit, mcp (MCP on stdio)

Every flag has an environment variable; see the README.`

func run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Println(usage)
		return nil
	}
	var pos []string
	if cmd == "role" {
		if len(args) < 2 {
			return fmt.Errorf("role needs a username and a role (admin or user)\n\n%s", usage)
		}
		pos, args = args[:2], args[2:]
	}
	cfg, err := app.LoadConfig(args)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg)
	switch cmd {
	case "serve":
		return app.Serve(ctx, cfg, log)
	case "setup":
		return app.Setup(ctx, cfg, log)
	case "migrate":
		return app.Migrate(ctx, cfg, log)
	case "role":
		return app.SetRole(ctx, cfg, pos[0], pos[1])
	case "rotate-secrets":
		return app.RotateSecrets(ctx, cfg, log)
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}
