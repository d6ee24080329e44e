package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/warder/warder/wire"
)

// usage is `usage [--json]`: the caller's LLM gateway usage this month
// (an admin's: every user's), a line per user and one per agent.
func (c *CLI) usage(ctx context.Context, args []string) error {
	fs := c.flags("usage", "usage [--json]\n(LLM gateway tokens today and this month, UTC, with the budgets: yours; an admin's, everyone's)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("usage takes no arguments")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	r, err := cl.Usage(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(r)
	}
	if !r.Gateway {
		fmt.Fprintln(c.Stderr, "warder: this server has no LLM gateway (no upstream is configured): nothing is metered")
	}
	rows := [][]string{}
	for _, u := range r.Users {
		rows = append(rows, []string{u.Username, "(all)", tokens(u.Today.TotalTokens), tokens(u.ThisMonth.TotalTokens), strconv.FormatInt(u.ThisMonth.Requests, 10), budget(u.Budget)})
		for _, a := range u.Agents {
			name := a.AgentName
			if name == "" {
				name = shortID(a.AgentID) + " (deleted)"
			}
			rows = append(rows, []string{u.Username, name, tokens(a.Today.TotalTokens), tokens(a.ThisMonth.TotalTokens), strconv.FormatInt(a.ThisMonth.Requests, 10), budget(u.AgentBudget)})
		}
	}
	table(c.Stdout, []string{"USER", "AGENT", "TODAY", "THIS MONTH", "REQUESTS", "BUDGET (DAY/MONTH)"}, rows)
	return nil
}

// agentsUsage is `agents usage AGENT [--json]`: the agent's tokens by
// model, its budget and its owner's.
func (c *CLI) agentsUsage(ctx context.Context, args []string) error {
	fs := c.flags("agents usage", "agents usage AGENT [--json]")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("agents usage takes one agent")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := resolveOne(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	u, err := cl.AgentUsage(ctx, a.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(u)
	}
	if !u.Gateway {
		fmt.Fprintln(c.Stderr, "warder: this server has no LLM gateway (no upstream is configured): nothing is metered")
	}
	rows := [][]string{}
	for _, m := range u.Models {
		rows = append(rows, []string{m.Model, tokens(m.Today.TotalTokens), tokens(m.ThisMonth.TotalTokens), strconv.FormatInt(m.ThisMonth.Requests, 10), ""})
	}
	rows = append(rows, []string{"(this agent)", tokens(u.Today.TotalTokens), tokens(u.ThisMonth.TotalTokens), strconv.FormatInt(u.ThisMonth.Requests, 10), budgetOf(u.Budget)})
	if u.UserToday != nil && u.UserThisMonth != nil {
		rows = append(rows, []string{"(its owner, all agents)", tokens(u.UserToday.TotalTokens), tokens(u.UserThisMonth.TotalTokens), strconv.FormatInt(u.UserThisMonth.Requests, 10), budgetOf(u.UserBudget)})
	}
	table(c.Stdout, []string{"MODEL", "TODAY", "THIS MONTH", "REQUESTS", "BUDGET (DAY/MONTH)"}, rows)
	return nil
}

// tokens is a count of tokens as tables show it.
func tokens(n int64) string { return strconv.FormatInt(n, 10) }

// budget is a budget as tables show it: "-" for none.
func budget(b wire.LLMBudget) string {
	n := func(v int64) string {
		if v <= 0 {
			return "-"
		}
		return strconv.FormatInt(v, 10)
	}
	return n(b.TokensPerDay) + "/" + n(b.TokensPerMonth)
}

func budgetOf(b *wire.LLMBudget) string {
	if b == nil {
		return "-/-"
	}
	return budget(*b)
}
