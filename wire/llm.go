package wire

// The LLM gateway's usage, as GET /api/agents/{id}/usage and GET
// /api/usage show it (docs/egress.md, "The LLM gateway"). Tokens are
// counted from the model provider's own usage figures; days and months
// are UTC.

// LLMTokens is what some requests through the gateway cost.
type LLMTokens struct {
	Requests         int64 `json:"requests"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// TotalTokens is prompt and completion tokens together: what budgets
	// count.
	TotalTokens int64 `json:"total_tokens"`
}

// Add adds o to t.
func (t *LLMTokens) Add(o LLMTokens) {
	t.Requests += o.Requests
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.TotalTokens += o.TotalTokens
}

// LLMBudget is a token allowance per UTC day and month; 0 is unlimited.
type LLMBudget struct {
	TokensPerDay   int64 `json:"tokens_per_day"`
	TokensPerMonth int64 `json:"tokens_per_month"`
}

// LLMModelUsage is the usage of one model.
type LLMModelUsage struct {
	Model     string    `json:"model"`
	Today     LLMTokens `json:"today"`
	ThisMonth LLMTokens `json:"this_month"`
}

// AgentLLMUsage is GET /api/agents/{id}/usage: what the agent spent
// through the gateway today and this month, its budget, and its owner's
// (either refuses the agent once spent).
type AgentLLMUsage struct {
	AgentID string `json:"agent_id"`
	// AgentName is empty for an agent deleted since (its usage still
	// counts against its owner's budget).
	AgentName string `json:"agent_name,omitempty"`
	UserID    string `json:"user_id"`
	// Gateway says whether this deployment has an LLM gateway (an
	// operator configured an upstream); without one nothing is metered.
	Gateway bool `json:"gateway,omitempty"`
	// Day ("2026-12-07") and Month ("2026-12") are the periods Today and
	// ThisMonth cover.
	Day       string    `json:"day,omitempty"`
	Month     string    `json:"month,omitempty"`
	Today     LLMTokens `json:"today"`
	ThisMonth LLMTokens `json:"this_month"`
	// Budget is the agent's own; UserBudget, UserToday and UserThisMonth
	// are its owner's, all of their agents together.
	Budget        *LLMBudget `json:"budget,omitempty"`
	UserBudget    *LLMBudget `json:"user_budget,omitempty"`
	UserToday     *LLMTokens `json:"user_today,omitempty"`
	UserThisMonth *LLMTokens `json:"user_this_month,omitempty"`
	// Models is the usage by model, most used this month first.
	Models []LLMModelUsage `json:"models"`
}

// UserLLMUsage is one user's usage in GET /api/usage.
type UserLLMUsage struct {
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	Today     LLMTokens `json:"today"`
	ThisMonth LLMTokens `json:"this_month"`
	// Budget is the user's, all of their agents together; AgentBudget
	// each one agent's.
	Budget      LLMBudget `json:"budget"`
	AgentBudget LLMBudget `json:"agent_budget"`
	// Agents is the usage by agent (this month's, with today's), most
	// used first; Models by model.
	Agents []AgentLLMUsage `json:"agents"`
	Models []LLMModelUsage `json:"models"`
}

// LLMUsageReport is GET /api/usage: the caller's usage, or for an admin
// every user's who used the gateway this month (and the admin's own).
type LLMUsageReport struct {
	Gateway bool           `json:"gateway"`
	Day     string         `json:"day"`
	Month   string         `json:"month"`
	Users   []UserLLMUsage `json:"users"`
}
