package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

func (c *CLI) keys(ctx context.Context, args []string) error {
	sub := "ls"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	switch sub {
	case "ls", "list":
		fs := c.flags("keys ls", "keys ls [--json]")
		asJSON := fs.Bool("json", false, "print JSON")
		if _, err := parse(fs, args); err != nil {
			return err
		}
		keys, err := cl.Keys(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(keys)
		}
		rows := [][]string{}
		for _, k := range keys {
			expires, used := "never", "never"
			if k.ExpiresAt != nil {
				expires = k.ExpiresAt.Local().Format("2006-01-02")
			}
			if k.LastUsedAt != nil {
				used = ago(*k.LastUsedAt)
			}
			rows = append(rows, []string{k.ID, k.Name, k.Prefix + "…", strconv.FormatBool(k.ReadOnly), expires, used})
		}
		table(c.Stdout, []string{"KEY ID", "NAME", "PREFIX", "READ ONLY", "EXPIRES", "LAST USED"}, rows)
		return nil
	case "create":
		fs := c.flags("keys create", "keys create NAME [--read-only] [--expires-days N]")
		ro := fs.Bool("read-only", false, "the key may only read")
		days := fs.Int("expires-days", 0, "days until it expires; 0 never")
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("keys create needs one name")
		}
		k, err := cl.CreateKey(ctx, wire.APIKeyCreate{Name: pos[0], ReadOnly: *ro, ExpiresInDays: *days})
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(k)
		}
		fmt.Fprintln(c.Stdout, escape(k.Key))
		fmt.Fprintln(c.Stderr, "This is the only time the key is shown; use it as WARDER_TOKEN or a bearer token.")
		return nil
	case "rm", "delete", "revoke":
		fs := c.flags("keys rm", "keys rm ID...")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("keys rm needs a key id")
		}
		for _, id := range pos {
			if err := cl.DeleteKey(ctx, id); err != nil {
				return err
			}
			fmt.Fprintln(c.Stdout, escape(id))
		}
		return nil
	}
	return usagef("unknown keys subcommand %q: ls, create or rm", sub)
}

// findUser is the user ref names, by id or username.
func findUser(ctx context.Context, cl *client.Client, ref string) (*warder.User, error) {
	users, err := cl.Users(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.ID == ref || strings.EqualFold(u.Username, ref) {
			return u, nil
		}
	}
	return nil, &notFound{fmt.Sprintf("no user %q (see warder users ls)", ref)}
}

func (c *CLI) users(ctx context.Context, args []string) error {
	sub := "ls"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	switch sub {
	case "ls", "list":
		fs := c.flags("users ls", "users ls [--json]")
		asJSON := fs.Bool("json", false, "print JSON")
		if _, err := parse(fs, args); err != nil {
			return err
		}
		users, err := cl.Users(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(users)
		}
		rows := [][]string{}
		for _, u := range users {
			state := "enabled"
			if u.Disabled {
				state = "disabled"
			}
			rows = append(rows, []string{u.ID, u.Username, u.Email, string(u.Role), state, ago(u.CreatedAt)})
		}
		table(c.Stdout, []string{"USER ID", "USERNAME", "EMAIL", "ROLE", "STATE", "CREATED"}, rows)
		return nil
	case "create":
		fs := c.flags("users create", "users create USERNAME EMAIL (the password is read from stdin)")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return usagef("users create needs a username and an email")
		}
		pw, err := readSecret(c.Stdin, c.Stderr, "Password: ")
		if err != nil || pw == "" {
			return usagef("users create reads the new user's password from stdin")
		}
		u, err := cl.CreateUser(ctx, wire.RegisterRequest{Username: pos[0], Email: pos[1], Password: pw})
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, escape(u.ID))
		return nil
	case "disable", "enable":
		fs := c.flags("users "+sub, "users "+sub+" USER...")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("users %s needs a user", sub)
		}
		for _, ref := range pos {
			u, err := findUser(ctx, cl, ref)
			if err != nil {
				return err
			}
			if sub == "disable" {
				err = cl.DisableUser(ctx, u.ID)
			} else {
				err = cl.EnableUser(ctx, u.ID)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Stdout, escape(u.Username))
		}
		return nil
	case "limits":
		return c.userLimits(ctx, cl, args)
	}
	return usagef("unknown users subcommand %q: ls, create, disable, enable or limits", sub)
}

// userLimits shows a user's limits, or with flags sets them (-1: back to
// the default).
func (c *CLI) userLimits(ctx context.Context, cl *client.Client, args []string) error {
	fs := c.flags("users limits", "users limits USER [--agents N] [--running N] [--memory BYTES] [--cpus N] [--agent-memory BYTES] [--agent-cpus N]\n  [--llm-tokens-day N] [--llm-tokens-month N] [--agent-llm-tokens-day N] [--agent-llm-tokens-month N]\n(with flags, the limits given are set and the others go back to the defaults; 0 is unlimited)")
	agents := fs.Int("agents", -2, "agents the user may have (-1: the default)")
	running := fs.Int("running", -2, "agents the user may run at once (-1: the default)")
	memory := fs.Int64("memory", -2, "bytes of memory all running agents may use (-1: the default)")
	cpus := fs.Float64("cpus", -2, "CPUs all running agents may use (-1: the default)")
	agentMem := fs.Int64("agent-memory", -2, "bytes of memory one agent may use (-1: the default)")
	agentCPUs := fs.Float64("agent-cpus", -2, "CPUs one agent may use (-1: the default)")
	llmDay := fs.Int64("llm-tokens-day", -2, "LLM gateway tokens all the user's agents may spend a day, UTC (-1: the default)")
	llmMonth := fs.Int64("llm-tokens-month", -2, "LLM gateway tokens all the user's agents may spend a month (-1: the default)")
	agentLLMDay := fs.Int64("agent-llm-tokens-day", -2, "LLM gateway tokens one agent may spend a day (-1: the default)")
	agentLLMMonth := fs.Int64("agent-llm-tokens-month", -2, "LLM gateway tokens one agent may spend a month (-1: the default)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("users limits needs one user")
	}
	u, err := findUser(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	usage, err := cl.UserLimits(ctx, u.ID)
	if err != nil {
		return err
	}
	// PUT sets every override at once, and the server shows only the
	// effective limits: the ones not given go back to the defaults.
	changed := false
	var l warder.Limits
	setInt := func(dst **int, v int) {
		if v != -2 {
			changed = true
			*dst = nil
			if v >= 0 {
				*dst = &v
			}
		}
	}
	setInt64 := func(dst **int64, v int64) {
		if v != -2 {
			changed = true
			*dst = nil
			if v >= 0 {
				*dst = &v
			}
		}
	}
	setFloat := func(dst **float64, v float64) {
		if v != -2 {
			changed = true
			*dst = nil
			if v >= 0 {
				*dst = &v
			}
		}
	}
	setInt(&l.Agents, *agents)
	setInt(&l.RunningAgents, *running)
	setInt64(&l.MemoryBytes, *memory)
	setFloat(&l.CPUs, *cpus)
	setInt64(&l.AgentMemoryBytes, *agentMem)
	setFloat(&l.AgentCPUs, *agentCPUs)
	setInt64(&l.LLMTokensPerDay, *llmDay)
	setInt64(&l.LLMTokensPerMonth, *llmMonth)
	setInt64(&l.AgentLLMTokensPerDay, *agentLLMDay)
	setInt64(&l.AgentLLMTokensPerMonth, *agentLLMMonth)
	if changed {
		if usage, err = cl.SetUserLimits(ctx, u.ID, l); err != nil {
			return err
		}
	}
	if *asJSON {
		return c.printJSON(usage)
	}
	num := func(p any) string {
		switch v := p.(type) {
		case *int:
			if v != nil {
				return strconv.Itoa(*v)
			}
		case *int64:
			if v != nil {
				return wire.HumanBytes(uint64(*v))
			}
		case *float64:
			if v != nil {
				return strconv.FormatFloat(*v, 'f', -1, 64)
			}
		}
		return "-"
	}
	count := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	x := usage.Limits
	table(c.Stdout, []string{"LIMIT", "VALUE", "IN USE"}, [][]string{
		{"agents", num(x.Agents), strconv.Itoa(usage.Used.Agents)},
		{"running agents", num(x.RunningAgents), strconv.Itoa(usage.Used.RunningAgents)},
		{"memory", num(x.MemoryBytes), wire.HumanBytes(uint64(usage.Used.MemoryBytes))},
		{"cpus", num(x.CPUs), strconv.FormatFloat(usage.Used.CPUs, 'f', -1, 64)},
		{"memory per agent", num(x.AgentMemoryBytes), ""},
		{"cpus per agent", num(x.AgentCPUs), ""},
		{"llm tokens a day", count(x.LLMTokensPerDay), ""},
		{"llm tokens a month", count(x.LLMTokensPerMonth), ""},
		{"llm tokens a day per agent", count(x.AgentLLMTokensPerDay), ""},
		{"llm tokens a month per agent", count(x.AgentLLMTokensPerMonth), ""},
	})
	return nil
}

func (c *CLI) status(ctx context.Context, args []string) error {
	fs := c.flags("status", "status [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	st, err := cl.SystemStatus(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(st)
	}
	var by []string
	for s, n := range st.AgentsByStatus {
		by = append(by, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(by)
	pairs(c.Stdout, [][]string{
		{"Server:", c.serverURL()},
		{"Database:", st.Database},
		{"Runtime:", st.RuntimeName + " " + st.Runtime},
		{"Users:", strconv.Itoa(st.Users)},
		{"Agents:", orDash(strings.Join(by, ", "))},
		{"Ports in use:", fmt.Sprintf("%d of %s", st.PortsInUse, st.PortRange)},
	})
	return nil
}

func (c *CLI) audit(ctx context.Context, args []string) error {
	fs := c.flags("audit", "audit [--user U] [--agent A] [--since T] [--limit N] [--json]")
	user := fs.String("user", "", "a user id or username")
	agent := fs.String("agent", "", "an agent id")
	since := fs.String("since", "", "since: RFC 3339, Unix seconds, or a duration such as 1h")
	limit := fs.Int("limit", 50, "at most this many entries")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	q := client.AuditQuery{User: *user, AgentID: *agent, Limit: *limit}
	if *since != "" {
		t, err := parseSince(*since)
		if err != nil {
			return err
		}
		q.Since = t
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	entries, err := cl.Audit(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(entries)
	}
	rows := [][]string{}
	for _, e := range entries {
		rows = append(rows, []string{e.At.Local().Format(time.DateTime), e.Username, e.Action, orDash(shortID(e.AgentID)), strconv.Itoa(e.Status), e.Result})
	}
	table(c.Stdout, []string{"TIME", "USER", "ACTION", "AGENT", "STATUS", "RESULT"}, rows)
	return nil
}
