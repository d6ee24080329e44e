package wire

import "time"

// Role is what a user may do beyond their own agents.
type Role string

// The two roles. An admin sees and acts on every user's agents.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// User is an account. PasswordHash never leaves the server: it has no JSON name.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	Role         Role      `json:"role"`
	FirstName    string    `json:"first_name"`
	LastName     string    `json:"last_name"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// UpdatedAt is when an admin last changed the account (its role,
	// whether it is disabled, its limits); CreatedAt until then.
	UpdatedAt time.Time `json:"updated_at"`
	// Status says Disabled in the original Warder's words.
	Status UserStatus `json:"status"`
	// ReadOnly is set on the caller, for one request, when it signed in
	// with a read-only API key: it may read but change nothing.
	ReadOnly bool `json:"-"`
	// Key is set on the caller, for one request, when it signed in with an
	// API key (nil for a login token): a key it makes is bounded by this one.
	Key *APIKey `json:"-"`
}

// UserStatus is whether an account may sign in, as the original Warder
// named it.
type UserStatus string

// The statuses of an account.
const (
	UserActive   UserStatus = "active"
	UserDisabled UserStatus = "disabled"
)

// IsAdmin reports whether u may act on every agent.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// RegisterRequest is the body of POST /api/auth/register.
type RegisterRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// FirstName and LastName are optional, as in the original Warder.
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// APIKey is a long-lived bearer credential for automation. Only the hash
// of its secret is stored; the secret is shown once, at creation.
type APIKey struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// ParentID is the key this one was made with, if it was made with a
	// key rather than a login token. It expires no later than its parent,
	// is read-only if its parent is, and is revoked with it.
	ParentID   string     `json:"parent_id,omitempty"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	ReadOnly   bool       `json:"read_only"`
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Hash       string     `json:"-"`
}

// APIKeyCreate is the body of POST /api/auth/keys.
type APIKeyCreate struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"read_only"`
	// ExpiresInDays is the key's lifetime; 0 means it never expires. A
	// key made with a key expires no later than that key, whatever this
	// asks.
	ExpiresInDays int `json:"expires_in_days"`
}

// Limits are per-user quotas. In an override a nil field means "the
// operator's default"; in effect, 0 means unlimited.
type Limits struct {
	Agents           *int     `json:"agents"`
	RunningAgents    *int     `json:"running_agents"`
	MemoryBytes      *int64   `json:"memory_bytes"`
	CPUs             *float64 `json:"cpus"`
	AgentMemoryBytes *int64   `json:"agent_memory_bytes"`
	AgentCPUs        *float64 `json:"agent_cpus"`
	// LLMTokensPerDay and LLMTokensPerMonth bound the tokens (prompt and
	// completion together) all of the user's agents may spend through
	// the LLM gateway per UTC day and month; AgentLLMTokensPerDay and
	// AgentLLMTokensPerMonth bound each one agent's (docs/egress.md).
	LLMTokensPerDay        *int64 `json:"llm_tokens_per_day"`
	LLMTokensPerMonth      *int64 `json:"llm_tokens_per_month"`
	AgentLLMTokensPerDay   *int64 `json:"agent_llm_tokens_per_day"`
	AgentLLMTokensPerMonth *int64 `json:"agent_llm_tokens_per_month"`
}

// Usage is a user's effective limits beside what they use now.
type Usage struct {
	UserID string      `json:"user_id"`
	Limits Limits      `json:"limits"`
	Used   LimitsInUse `json:"used"`
	// Images is the image policy that applies to the user, so a client
	// can offer the images they may run.
	Images ImagesAllowed `json:"images"`
}

// ImagesAllowed is an image policy as one user sees it.
type ImagesAllowed struct {
	// Default is the image of an agent that names none.
	Default string `json:"default"`
	// Allowed are the patterns an image must match (the only wildcard is
	// "*"): WARDER_ALLOWED_IMAGES, or WARDER_ADMIN_ALLOWED_IMAGES for an
	// admin.
	Allowed []string `json:"allowed"`
}

// LimitsInUse counts what the limits bound.
type LimitsInUse struct {
	Agents        int     `json:"agents"`
	RunningAgents int     `json:"running_agents"`
	MemoryBytes   int64   `json:"memory_bytes"`
	CPUs          float64 `json:"cpus"`
}

// SystemStatus is the admin's view of the whole installation.
type SystemStatus struct {
	Database string `json:"database"`
	// Runtime is "ok" or why the runtime is unavailable; the key is
	// "docker" for the API's existing clients, whatever the runtime.
	Runtime        string         `json:"docker"`
	RuntimeName    string         `json:"runtime"`
	Users          int            `json:"users"`
	AgentsByStatus map[Status]int `json:"agents_by_status"`
	PortsInUse     int            `json:"ports_in_use"`
	PortRange      string         `json:"port_range"`
	CheckedAt      time.Time      `json:"checked_at"`
}
