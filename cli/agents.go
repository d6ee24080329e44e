package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
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
	out := outputFlags(fs, true, true)
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
	if err := out.check(true); err != nil {
		return err
	}
	q := client.AgentQuery{Name: *name, NamePrefix: *prefix, UserID: *user, Limit: *limit, Cursor: *cursor}
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
		if *watch && c.Terminal() && out.mode != "json" && out.mode != "yaml" {
			fmt.Fprint(c.Stdout, "\x1b[H\x1b[2J") // clear the screen
		}
		if done, err := c.structured(out, list); done {
			return err
		}
		switch {
		case out.format != "":
			err = c.printFormat(out.format, agentItems(list))
		case *quiet:
			for _, a := range list {
				fmt.Fprintln(c.Stdout, escape(a.ID))
			}
		default:
			c.agentTable(list, out.mode == "wide")
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
const agentsLsSynopsis = "agents ls [-q] [-o json|yaml|wide] [--format TEMPLATE] [--watch] [--status S] [--name N] [--name-prefix P] [--user ID] [--limit N [--cursor C]]"

// agentItems is list as --format's items.
func agentItems(list []*warder.Agent) []any {
	items := make([]any, len(list))
	for i, a := range list {
		items[i] = a
	}
	return items
}

// agentTable prints the agents as docker ps does: the status with its
// exit code and when it changed ("exited (3) 5 seconds ago") and, last,
// why (cut short unless wide, which adds the user, limits, network,
// isolation level and the full id).
func (c *CLI) agentTable(list []*warder.Agent, wide bool) {
	rows := make([][]string, 0, len(list))
	for _, a := range list {
		port := "-"
		if a.HostPort != 0 {
			port = strconv.Itoa(a.HostPort)
		}
		reason := oneLine(a.StatusReason)
		if !wide {
			reason = cut(reason, 60)
		}
		row := []string{shortID(a.ID), a.Name, agentStatus(a), a.ContainerConfig.Image, port, ago(a.CreatedAt)}
		if wide {
			cc := a.ContainerConfig
			cpus := "-"
			if cc.CPULimit > 0 {
				cpus = strconv.FormatFloat(cc.CPULimit, 'g', -1, 64)
			}
			row = append(row, orDash(cc.MemoryLimit), cpus, orDash(cc.Network), cmp.Or(cc.Isolation, "default"), strconv.Itoa(a.RestartCount), shortID(a.UserID), a.ID)
		}
		rows = append(rows, append(row, orDash(reason)))
	}
	header := []string{"AGENT ID", "NAME", "STATUS", "IMAGE", "PORT", "CREATED"}
	if wide {
		header = append(header, "MEMORY", "CPUS", "NETWORK", "ISOLATION", "RESTARTS", "USER", "FULL ID")
	}
	table(c.Stdout, append(header, "REASON"), rows)
}

// agentStatus is a's status as docker ps writes it: "running (healthy)",
// "exited (3) 5 seconds ago", "failed (137) 2 minutes ago".
func agentStatus(a *warder.Agent) string {
	s := string(a.Status)
	if a.Health != "" && a.Status == warder.StatusRunning {
		s += " (" + a.Health + ")"
	}
	switch a.Status {
	case warder.StatusExited, warder.StatusFailed, warder.StatusStopped, warder.StatusMissing:
		if a.ExitCode != nil && a.Status != warder.StatusMissing {
			s += fmt.Sprintf(" (%d)", *a.ExitCode)
		}
		if !a.StatusChangedAt.IsZero() {
			s += " " + ago(a.StatusChangedAt)
		}
	}
	return s
}

// cut is s with at most n characters, the last of them … when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
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
	egress := fs.String("egress", "", "where the agent may connect: none, all, or destinations, comma-separated (api.openai.com:443,*.github.com)")
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
	var req wire.AgentCreate
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
	if *egress != "" {
		cc.Egress = strings.Split(*egress, ",")
	}
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
	fs := c.flags("agents inspect", "agents inspect [-o json|yaml] [--format TEMPLATE] AGENT...")
	out := outputFlags(fs, false, true)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("agents inspect needs at least one agent")
	}
	if err := out.check(false); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := resolveAll(ctx, cl, pos)
	if err != nil {
		return err
	}
	if out.format != "" {
		return c.printFormat(out.format, agentItems(list))
	}
	if out.mode == "yaml" {
		return c.printYAML(list)
	}
	return c.printJSON(list)
}

// agentsLifecycle starts, stops, restarts or removes every agent named,
// going on past failures (each is a line on stderr) and failing at the
// end if any did, with the first failure's exit code.
func (c *CLI) agentsLifecycle(ctx context.Context, verb string, args []string) error {
	synopsis := "agents " + verb + " AGENT..."
	if verb == "rm" || verb == "delete" {
		synopsis = "agents " + verb + " [-f] [--keep-snapshots] AGENT..."
	}
	fs := c.flags("agents "+verb, synopsis)
	var force bool
	var del client.DeleteOptions
	if verb == "rm" || verb == "delete" {
		fs.BoolVar(&force, "f", false, "remove a running agent too (it is stopped first), as docker rm -f")
		fs.BoolVar(&force, "force", false, "same as -f")
		fs.BoolVar(&del.KeepSnapshots, "keep-snapshots", false, "keep the agent's snapshots (its id still lists them: warder agents snapshots ID)")
	}
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
		err := c.lifecycleOne(ctx, cl, list, verb, ref, force, del)
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

func (c *CLI) lifecycleOne(ctx context.Context, cl *client.Client, list []*warder.Agent, verb, ref string, force bool, del client.DeleteOptions) error {
	a, err := resolve(list, ref)
	if err != nil {
		return err
	}
	if (verb == "rm" || verb == "delete") && !force && busy(a.Status) {
		return &conflict{fmt.Sprintf("agent %s is %s: stop it first (warder agents stop %s), or remove it anyway with warder agents rm -f %s",
			a.Name, a.Status, a.Name, a.Name)}
	}
	switch verb {
	case "start":
		_, err = cl.StartAgent(ctx, a.ID)
	case "stop":
		_, err = cl.StopAgent(ctx, a.ID)
	case "restart":
		_, err = cl.RestartAgent(ctx, a.ID)
	case "pause":
		_, err = cl.PauseAgent(ctx, a.ID)
	case "resume":
		_, err = cl.ResumeAgent(ctx, a.ID)
	default:
		err = cl.DeleteAgentWith(ctx, a.ID, del)
	}
	return err
}

// busy reports whether an agent in status s has a container at work,
// which rm leaves alone without -f, as docker rm does.
func busy(s warder.Status) bool {
	return s == warder.StatusRunning || s == warder.StatusStarting || s == warder.StatusStopping
}

// conflict is a refusal by an agent's state that the CLI makes itself:
// exit 7, as the server's 409.
type conflict struct{ msg string }

func (e *conflict) Error() string { return e.msg }

// partial is a command on several agents where some failed; each was
// reported on its own line, and the exit code is the first failure's.
type partial struct{ first error }

func (p *partial) Error() string { return "not every agent could be handled (see above)" }
func (p *partial) Unwrap() error { return p.first }
