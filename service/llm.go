package service

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/warder/warder"
)

// LLMConfig is the LLM gateway's part of the rules (docs/egress.md, "The
// LLM gateway"): who a gateway token stands for, the budgets, and the
// usage routes.
type LLMConfig struct {
	// Usage is where the gateway's usage is kept; nil: no gateway, and
	// the usage routes show nothing spent.
	Usage warder.LLMUsageStore
	// Gateway says an operator configured an upstream: agents get a
	// gateway token and their usage is metered.
	Gateway bool
}

// LLM is the LLM gateway's rules.
type LLM struct {
	*core
	agents *Agents
	cfg    LLMConfig
}

func newLLM(c *core, agents *Agents, cfg LLMConfig) *LLM {
	return &LLM{core: c, agents: agents, cfg: cfg}
}

// Caller is who the gateway serves for agentID, whose token was checked:
// the agent, while it exists, and its owner, while enabled. Anything
// else refuses the token, so deleting the agent or disabling its owner
// revokes it (within a second on other replicas: CachedAgent).
func (s *LLM) Caller(ctx context.Context, agentID string) (userID string, err error) {
	if err := validID(agentID); err != nil {
		return "", err
	}
	a, err := s.store.CachedAgent(ctx, agentID)
	if err != nil {
		return "", err
	}
	owner, err := s.store.UserByID(ctx, a.UserID)
	if err != nil {
		return "", err
	}
	if owner.Disabled {
		return "", warder.Errorf(warder.ErrForbidden, "the agent's owner is disabled")
	}
	return a.UserID, nil
}

// Budgets are the token budgets of each of the user's agents and of the
// user's agents together: the user's limits, else the operator's
// defaults (WARDER_LLM_*_TOKENS_PER_*), 0 unlimited.
func (s *LLM) Budgets(ctx context.Context, userID string) (agent, user warder.LLMBudget, err error) {
	override, err := s.store.UserLimits(ctx, userID)
	if err != nil {
		return agent, user, err
	}
	l := s.agents.effective(override)
	n := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return warder.LLMBudget{TokensPerDay: n(l.AgentLLMTokensPerDay), TokensPerMonth: n(l.AgentLLMTokensPerMonth)},
		warder.LLMBudget{TokensPerDay: n(l.LLMTokensPerDay), TokensPerMonth: n(l.LLMTokensPerMonth)}, nil
}

// AgentUsage is GET /api/agents/{id}/usage: the agent's tokens today and
// this month, by model, with its budget and its owner's. Another user's
// agent is ErrNotFound, as elsewhere.
func (s *LLM) AgentUsage(ctx context.Context, caller *warder.User, id string) (*warder.AgentLLMUsage, error) {
	a, err := s.visible(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := &warder.AgentLLMUsage{AgentID: a.ID, AgentName: a.Name, UserID: a.UserID, Gateway: s.cfg.Gateway,
		Day: warder.LLMDay(now), Month: warder.LLMMonth(now), Models: []warder.LLMModelUsage{}}
	agentBudget, userBudget, err := s.Budgets(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	out.Budget, out.UserBudget = &agentBudget, &userBudget
	out.UserToday, out.UserThisMonth = &warder.LLMTokens{}, &warder.LLMTokens{}
	if s.cfg.Usage == nil {
		return out, nil
	}
	rows, err := s.cfg.Usage.LLMUsage(ctx, warder.LLMUsageFilter{UserID: a.UserID, At: now})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out.UserToday.Add(r.Today)
		out.UserThisMonth.Add(r.ThisMonth)
		if r.AgentID == a.ID {
			out.Today.Add(r.Today)
			out.ThisMonth.Add(r.ThisMonth)
			out.Models = append(out.Models, warder.LLMModelUsage{Model: r.Model, Today: r.Today, ThisMonth: r.ThisMonth})
		}
	}
	return out, nil
}

// Usage is GET /api/usage: the caller's usage this month, by agent and
// model; an admin's has every user who used the gateway this month too.
func (s *LLM) Usage(ctx context.Context, caller *warder.User) (*warder.LLMUsageReport, error) {
	now := time.Now()
	out := &warder.LLMUsageReport{Gateway: s.cfg.Gateway, Day: warder.LLMDay(now), Month: warder.LLMMonth(now), Users: []warder.UserLLMUsage{}}
	var rows []warder.LLMUsageRow
	if s.cfg.Usage != nil {
		f := warder.LLMUsageFilter{UserID: caller.ID, At: now}
		if caller.IsAdmin() {
			f.UserID = ""
		}
		var err error
		if rows, err = s.cfg.Usage.LLMUsage(ctx, f); err != nil {
			return nil, err
		}
	}
	byUser := map[string]int{}
	user := func(id string) (*warder.UserLLMUsage, error) {
		if i, ok := byUser[id]; ok {
			return &out.Users[i], nil
		}
		u := warder.UserLLMUsage{UserID: id, Agents: []warder.AgentLLMUsage{}, Models: []warder.LLMModelUsage{}}
		if id == caller.ID {
			u.Username = caller.Username
		} else if owner, err := s.store.UserByID(ctx, id); err == nil {
			u.Username = owner.Username
		}
		var err error
		if u.AgentBudget, u.Budget, err = s.Budgets(ctx, id); err != nil && !errors.Is(err, warder.ErrNotFound) {
			return nil, err
		}
		byUser[id] = len(out.Users)
		out.Users = append(out.Users, u)
		return &out.Users[len(out.Users)-1], nil
	}
	if _, err := user(caller.ID); err != nil {
		return nil, err
	}
	for _, r := range rows {
		u, err := user(r.UserID)
		if err != nil {
			return nil, err
		}
		u.Today.Add(r.Today)
		u.ThisMonth.Add(r.ThisMonth)
		addAgentUsage(ctx, s.store, u, r)
		addModelUsage(&u.Models, r)
	}
	for i := range out.Users {
		u := &out.Users[i]
		slices.SortStableFunc(u.Agents, func(x, y warder.AgentLLMUsage) int {
			return cmp.Compare(y.ThisMonth.TotalTokens, x.ThisMonth.TotalTokens)
		})
		slices.SortStableFunc(u.Models, func(x, y warder.LLMModelUsage) int {
			return cmp.Compare(y.ThisMonth.TotalTokens, x.ThisMonth.TotalTokens)
		})
	}
	slices.SortStableFunc(out.Users[1:], func(x, y warder.UserLLMUsage) int {
		return cmp.Compare(y.ThisMonth.TotalTokens, x.ThisMonth.TotalTokens)
	})
	return out, nil
}

// addAgentUsage adds r to its agent's line in u, named while it exists.
func addAgentUsage(ctx context.Context, store warder.Store, u *warder.UserLLMUsage, r warder.LLMUsageRow) {
	for i := range u.Agents {
		if a := &u.Agents[i]; a.AgentID == r.AgentID {
			a.Today.Add(r.Today)
			a.ThisMonth.Add(r.ThisMonth)
			addModelUsage(&a.Models, r)
			return
		}
	}
	a := warder.AgentLLMUsage{AgentID: r.AgentID, UserID: r.UserID, Today: r.Today, ThisMonth: r.ThisMonth,
		Models: []warder.LLMModelUsage{{Model: r.Model, Today: r.Today, ThisMonth: r.ThisMonth}}}
	if agent, err := store.CachedAgent(ctx, r.AgentID); err == nil {
		a.AgentName = agent.Name
	}
	u.Agents = append(u.Agents, a)
}

// addModelUsage adds r to its model's line in models.
func addModelUsage(models *[]warder.LLMModelUsage, r warder.LLMUsageRow) {
	for i := range *models {
		if m := &(*models)[i]; m.Model == r.Model {
			m.Today.Add(r.Today)
			m.ThisMonth.Add(r.ThisMonth)
			return
		}
	}
	*models = append(*models, warder.LLMModelUsage{Model: r.Model, Today: r.Today, ThisMonth: r.ThisMonth})
}
