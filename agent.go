package warder

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Status is Warder's view of an agent's lifecycle.
type Status string

// Agent statuses. Each says what the container is doing, and why.
const (
	StatusCreated  Status = "created"  // no container has been made yet
	StatusStarting Status = "starting" // a start is in progress
	StatusRunning  Status = "running"
	StatusStopping Status = "stopping" // a user's stop is in progress
	StatusStopped  Status = "stopped"  // stopped by a user (or idle auto-stop)
	StatusExited   Status = "exited"   // the agent's process ended on its own; see ExitCode
	StatusFailed   Status = "failed"   // OOMKilled, a crash loop, or a start that failed; see StatusReason
	StatusMissing  Status = "missing"  // the container was removed outside Warder
	// StatusDeleted is never an agent's status: it is the "to" of the
	// last StatusChange of an agent, sent when it is deleted, so a
	// follower of /api/events learns of deletions too.
	StatusDeleted Status = "deleted"
)

// Agent is one AI agent and, once started, its one container.
type Agent struct {
	ID              string          `json:"id"`
	UserID          string          `json:"user_id"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Type            string          `json:"type"`
	Config          map[string]any  `json:"config"`
	ContainerConfig ContainerConfig `json:"container_config"`
	// KnowledgeBase is the original Warder's knowledge_base (its
	// directory, chunk_size, …), kept as sent and shown back: Warder does
	// not act on it; the agent's image may read it. {} if none.
	KnowledgeBase map[string]any `json:"knowledge_base"`

	Status          Status `json:"status"`
	ContainerID     string `json:"container_id"`
	ContainerName   string `json:"container_name"`
	ContainerStatus string `json:"container_status"`
	// HostPort is the port on the Docker host published to the agent's
	// port; 0 (shown as null) when the agent holds none. Fields tagged
	// nullable are null in JSON while zero (see MarshalJSON).
	HostPort int `json:"host_port" nullable:"true"`
	// ExitCode is the container's last exit code, nil while it never exited.
	ExitCode        *int      `json:"exit_code"`
	RestartCount    int       `json:"restart_count"`
	StatusReason    string    `json:"status_reason"`
	StatusChangedAt time.Time `json:"status_changed_at" nullable:"true"`
	// LastUsedAt is the last API call on the agent: idle auto-stop counts from it.
	LastUsedAt time.Time `json:"last_used_at" nullable:"true"`
	// Health is the container's health check while it runs: "healthy",
	// "unhealthy", "starting"; "" when it is not running or has none.
	Health string `json:"health" nullable:"true"`
	// SealedSecrets is ContainerConfig.SecretEnv, encrypted; it never
	// leaves the server.
	SealedSecrets string `json:"-"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ContainerConfig is what the user asks of the agent's container.
// MemoryLimit is kept as the user wrote it ("512m"); it is validated by
// ParseMemory when the agent is created or updated.
type ContainerConfig struct {
	Image       string            `json:"image"`
	MemoryLimit string            `json:"memory_limit"`
	CPULimit    float64           `json:"cpu_limit"`
	EnvVars     map[string]string `json:"env_vars"`
	// Port is the port the agent listens on inside its container.
	Port int `json:"port"`
	// RestartPolicy is "no" (the default), "on-failure", "on-failure:N"
	// (at most N restarts) or "unless-stopped".
	RestartPolicy string `json:"restart_policy"`
	// AutoStopMinutes stops the agent after that long without use; 0 never.
	AutoStopMinutes float64 `json:"auto_stop_minutes"`
	// SecretEnv is write-only: env vars whose values are sealed at once
	// (Agent.SealedSecrets) and never shown again; SecretEnvNames lists
	// their names.
	SecretEnv      map[string]string `json:"secret_env,omitempty"`
	SecretEnvNames []string          `json:"secret_env_names"`
	// AutoStart, at create, starts the agent right after it is made, as
	// the original Warder's clients ask with container_config.auto_start.
	AutoStart bool `json:"auto_start"`
	// Network is "egress" (outbound allowed; the agent's port is published
	// on the host) or "internal" (nothing outside its Docker network can be
	// reached; Warder reaches it at its container address). Empty means the
	// operator's default.
	Network string `json:"network"`
}

// Clone returns c with maps and slices of its own.
func (c ContainerConfig) Clone() ContainerConfig {
	c.EnvVars = maps.Clone(c.EnvVars)
	c.SecretEnv = maps.Clone(c.SecretEnv)
	c.SecretEnvNames = slices.Clone(c.SecretEnvNames)
	return c
}

// The two kinds of agent network.
const (
	NetworkEgress   = "egress"
	NetworkInternal = "internal"
)

// AgentFilter selects agents for listing and counting, in the listing
// order (created_at, id). Zero fields select everything: an empty UserID
// means all users.
type AgentFilter struct {
	UserID string
	// Statuses, when not empty, keeps the agents in any of them.
	Statuses []Status
	// Name keeps the agent of exactly this name; NamePrefix those whose
	// name starts with it (case-sensitive, as names are unique).
	Name, NamePrefix string
	// After, when set, keeps the agents that come after it in the listing
	// order: keyset pagination. CountAgents ignores it.
	After *AgentKey
	// Limit, when > 0, returns at most that many. CountAgents ignores it.
	Limit int
}

// AgentStore persists agents. Names are unique per user (ErrConflict), and
// host ports are unique across all agents (ErrConflict).
type AgentStore interface {
	CreateAgent(ctx context.Context, a *Agent) error
	// Agent returns the agent by id, or ErrNotFound.
	Agent(ctx context.Context, id string) (*Agent, error)
	// CachedAgent is Agent, possibly answered from memory: it reflects
	// every write through this store that returned before it began, and
	// other processes' writes within a second (at once on a store that
	// hears of them). For showing an agent and checking who may see it;
	// a read-modify-write reads with Agent, so as never to write back a
	// row another process has just changed.
	CachedAgent(ctx context.Context, id string) (*Agent, error)
	// ListAgents returns the agents f selects, oldest first (by
	// created_at, then id); never nil.
	ListAgents(ctx context.Context, f AgentFilter) ([]*Agent, error)
	// CountAgents counts the agents f selects (After and Limit aside)
	// without reading them: the quota checks' query.
	CountAgents(ctx context.Context, f AgentFilter) (int, error)
	// UpdateAgent writes every field of a, setting a.UpdatedAt.
	UpdateAgent(ctx context.Context, a *Agent) error
	DeleteAgent(ctx context.Context, id string) error
	// RecordDeletion deletes agent a as DeleteAgent does and records ev
	// (its last status change, to StatusDeleted) where processes sharing
	// the store follow changes (the PostgreSQL feed), in one transaction.
	RecordDeletion(ctx context.Context, a *Agent, ev *AgentEvent) error

	// RecordStatus writes a (as UpdateAgent) and appends ev to its
	// history, in one transaction.
	RecordStatus(ctx context.Context, a *Agent, ev *AgentEvent) error
	// AgentEvents lists the agent's latest status changes, oldest first.
	AgentEvents(ctx context.Context, agentID string, limit int) ([]*AgentEvent, error)
	// ResealSecrets replaces the agent's sealed secrets with sealed if they
	// are still old (ErrConflict otherwise): a key rotation that never
	// overwrites a newer edit.
	ResealSecrets(ctx context.Context, agentID, old, sealed string) error
	// TouchAgent sets last_used_at.
	TouchAgent(ctx context.Context, agentID string, at time.Time) error

	// PortStore holds agents' host-port claims (agents.host_port).
	PortStore
}
