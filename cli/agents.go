package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
)

// notFound is an agent the command line names that matches none.
type notFound struct{ what string }

func (e *notFound) Error() string { return e.what }

// resolve finds the agent ref names: its id, a unique prefix of its id,
// or its name (the caller's own first).
func resolve(list []*warder.Agent, ref string) (*warder.Agent, error) {
	var byPrefix, byName []*warder.Agent
	for _, a := range list {
		if a.ID == ref {
			return a, nil
		}
		if strings.HasPrefix(a.ID, ref) {
			byPrefix = append(byPrefix, a)
		}
		if a.Name == ref {
			byName = append(byName, a)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return nil, usagef("%d agents are named %q (admins see every user's); use the id", len(byName), ref)
	case len(byPrefix) == 1:
		return byPrefix[0], nil
	case len(byPrefix) > 1:
		return nil, usagef("%q is the start of %d agents' ids; give more of it", ref, len(byPrefix))
	}
	return nil, &notFound{fmt.Sprintf("no agent %q (see warder agents ls)", ref)}
}

// resolveAll finds every agent refs name, listing agents once.
func resolveAll(ctx context.Context, cl *client.Client, refs []string) ([]*warder.Agent, error) {
	list, err := cl.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*warder.Agent, 0, len(refs))
	for _, ref := range refs {
		a, err := resolve(list, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// resolveOne is resolveAll for one agent.
func resolveOne(ctx context.Context, cl *client.Client, ref string) (*warder.Agent, error) {
	list, err := resolveAll(ctx, cl, []string{ref})
	if err != nil {
		return nil, err
	}
	return list[0], nil
}

func (c *CLI) agentsList(ctx context.Context, args []string) error {
	fs := c.flags("agents ls", agentsLsSynopsis)
	quiet := fs.Bool("q", false, "only ids")
	asJSON := fs.Bool("json", false, "print JSON")
	watch := fs.Bool("watch", false, "print the table again at every status change")
	var statuses multi
	fs.Var(&statuses, "status", "only agents in this status (repeatable, or comma-separated: running,starting)")
	name := fs.String("name", "", "only the agent of exactly this name")
	prefix := fs.String("name-prefix", "", "only agents whose name starts with this")
	user := fs.String("user", "", "admins: only this user's agents (a user id)")
	limit := fs.Int("limit", 0, fmt.Sprintf("a page of at most this many (1 to %d); the next page's --cursor goes to stderr", warder.MaxAgentPage))
	cursor := fs.String("cursor", "", "the page after the one that printed this cursor")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("agents ls takes no arguments")
	}
	q := warder.AgentQuery{Name: *name, NamePrefix: *prefix, UserID: *user, Limit: *limit, Cursor: *cursor}
	for _, list := range statuses {
		for st := range strings.SplitSeq(list, ",") {
			if st = strings.TrimSpace(st); st != "" {
				q.Statuses = append(q.Statuses, warder.Status(st))
			}
		}
	}
	limitSet := false
	fs.Visit(func(f *flag.Flag) { limitSet = limitSet || f.Name == "limit" })
	if limitSet && (*limit < 1 || *limit > warder.MaxAgentPage) {
		return usagef("--limit must be between 1 and %d, not %d", warder.MaxAgentPage, *limit)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	show := func() error {
		page, err := cl.ListAgents(ctx, q)
		if err != nil {
			return err
		}
		list := page.Agents
		switch {
		case *asJSON:
			err = c.printJSON(list)
		case *quiet:
			for _, a := range list {
				fmt.Fprintln(c.Stdout, escape(a.ID))
			}
		default:
			if *watch && c.Terminal() {
				fmt.Fprint(c.Stdout, "\x1b[H\x1b[2J") // clear the screen
			}
			c.agentTable(list)
		}
		if err == nil && page.Next != "" {
			fmt.Fprintf(c.Stderr, "more agents: add --cursor %s\n", escape(page.Next))
		}
		return err
	}
	if err := show(); err != nil || !*watch {
		return err
	}
	_, err = cl.Events(ctx, func(warder.StatusChange) error { return show() })
	return err
}

// agentsLsSynopsis is agents ls's usage line.
const agentsLsSynopsis = "agents ls [-q] [--json] [--watch] [--status S] [--name N] [--name-prefix P] [--user ID] [--limit N [--cursor C]]"

func (c *CLI) agentTable(list []*warder.Agent) {
	rows := make([][]string, 0, len(list))
	for _, a := range list {
		port := "-"
		if a.HostPort != 0 {
			port = strconv.Itoa(a.HostPort)
		}
		status := string(a.Status)
		if a.Health != "" {
			status += " (" + a.Health + ")"
		}
		rows = append(rows, []string{shortID(a.ID), a.Name, status, a.ContainerConfig.Image, port, ago(a.CreatedAt)})
	}
	table(c.Stdout, []string{"AGENT ID", "NAME", "STATUS", "IMAGE", "PORT", "CREATED"}, rows)
}

func (c *CLI) agentsCreate(ctx context.Context, args []string) error {
	fs := c.flags("agents create", "agents create [NAME] [flags]")
	file := fs.String("f", "", "an agent as JSON (the body of POST /api/agents); flags override it")
	name := fs.String("name", "", "the agent's name (or the first argument)")
	desc := fs.String("description", "", "what the agent is for")
	typ := fs.String("type", "", "the agent's type (default chat)")
	image := fs.String("image", "", "the image to run (default: the server's AGENT_IMAGE)")
	memory := fs.String("memory", "", "memory limit, such as 512m")
	cpus := fs.Float64("cpus", 0, "CPU limit, such as 0.5")
	network := fs.String("network", "", "egress or internal (default: the server's)")
	port := fs.Int("port", 0, "the port the agent listens on in its container")
	model := fs.String("model", "", "config.model, the model the default agent asks")
	start := fs.Bool("start", false, "start the agent once it is made (container_config.auto_start)")
	var env, secrets, configs multi
	fs.Var(&env, "e", "KEY=VALUE environment variable (repeatable)")
	fs.Var(&secrets, "secret", "KEY of a secret env var, its value read from $KEY or else a line of stdin (repeatable)")
	fs.Var(&configs, "config", "KEY=VALUE in config (repeatable)")
	asJSON := fs.Bool("json", false, "print the agent as JSON, not its id")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	var req warder.AgentCreate
	if *file != "" {
		b, err := c.readFile(*file)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return usagef("%s is not an agent: %v", *file, err)
		}
	}
	switch {
	case len(pos) > 1:
		return usagef("agents create takes one name, not %q", strings.Join(pos, " "))
	case len(pos) == 1 && *name != "":
		return usagef("give the name once: as an argument or with --name")
	case len(pos) == 1:
		req.Name = pos[0]
	case *name != "":
		req.Name = *name
	}
	if req.Name == "" {
		return usagef("agents create needs a name: warder agents create NAME")
	}
	cc := &req.ContainerConfig
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&req.Description, *desc)
	set(&req.Type, *typ)
	set(&cc.Image, *image)
	set(&cc.MemoryLimit, *memory)
	set(&cc.Network, *network)
	if *cpus != 0 {
		cc.CPULimit = *cpus
	}
	if *port != 0 {
		cc.Port = *port
	}
	cc.AutoStart = cc.AutoStart || *start
	if req.Config == nil && (*model != "" || len(configs) > 0) {
		req.Config = map[string]any{}
	}
	if *model != "" {
		req.Config["model"] = *model
	}
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--config takes KEY=VALUE, not %q", kv)
		}
		req.Config[k] = v
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("-e takes KEY=VALUE, not %q", kv)
		}
		if cc.EnvVars == nil {
			cc.EnvVars = map[string]string{}
		}
		cc.EnvVars[k] = v
	}
	if err := c.readSecrets(secrets, cc); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := cl.CreateAgent(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(a)
	}
	fmt.Fprintln(c.Stdout, escape(a.ID))
	return nil
}

// readSecrets fills cc.SecretEnv with each KEY's value: $KEY when set,
// else one line of stdin each, so no secret is on the command line.
func (c *CLI) readSecrets(keys []string, cc *warder.ContainerConfig) error {
	if len(keys) == 0 {
		return nil
	}
	if cc.SecretEnv == nil {
		cc.SecretEnv = map[string]string{}
	}
	for _, k := range keys {
		if strings.Contains(k, "=") {
			return usagef("--secret takes a KEY only; its value comes from $%s or stdin, never the command line", strings.SplitN(k, "=", 2)[0])
		}
		if v := c.Getenv(k); v != "" {
			cc.SecretEnv[k] = v
			continue
		}
		v, err := readSecret(c.Stdin, c.Stderr, k+": ")
		if err != nil || v == "" {
			return usagef("no value for secret %s: set $%s or give it on stdin", k, k)
		}
		cc.SecretEnv[k] = v
	}
	return nil
}

func (c *CLI) readFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(c.Stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return b, nil
}

func (c *CLI) agentsInspect(ctx context.Context, args []string) error {
	fs := c.flags("agents inspect", "agents inspect AGENT...")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("agents inspect needs at least one agent")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := resolveAll(ctx, cl, pos)
	if err != nil {
		return err
	}
	return c.printJSON(list)
}

// agentsLifecycle starts, stops, restarts or removes every agent named,
// going on past failures (each is a line on stderr) and failing at the
// end if any did, with the first failure's exit code.
func (c *CLI) agentsLifecycle(ctx context.Context, verb string, args []string) error {
	fs := c.flags("agents "+verb, "agents "+verb+" AGENT...")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("agents %s needs at least one agent", verb)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := cl.Agents(ctx)
	if err != nil {
		return err
	}
	var first error
	for _, ref := range pos {
		err := c.lifecycleOne(ctx, cl, list, verb, ref)
		if err == nil {
			fmt.Fprintln(c.Stdout, escape(ref))
			continue
		}
		if first == nil {
			first = err
		}
		if len(pos) > 1 {
			_, line := c.explain(err)
			fmt.Fprintf(c.Stderr, "warder: %s: %s\n", escape(ref), escape(line))
		}
	}
	if first != nil && len(pos) > 1 {
		return &partial{first}
	}
	return first
}

func (c *CLI) lifecycleOne(ctx context.Context, cl *client.Client, list []*warder.Agent, verb, ref string) error {
	a, err := resolve(list, ref)
	if err != nil {
		return err
	}
	switch verb {
	case "start":
		_, err = cl.StartAgent(ctx, a.ID)
	case "stop":
		_, err = cl.StopAgent(ctx, a.ID)
	case "restart":
		_, err = cl.RestartAgent(ctx, a.ID)
	default:
		err = cl.DeleteAgent(ctx, a.ID)
	}
	return err
}

// partial is a command on several agents where some failed; each was
// reported on its own line, and the exit code is the first failure's.
type partial struct{ first error }

func (p *partial) Error() string { return "not every agent could be handled (see above)" }
func (p *partial) Unwrap() error { return p.first }
