package warder

import (
	"context"
	"time"

	"github.com/warder/warder/wire"
)

// Agent, its status and its container settings are the API's shapes,
// defined in package wire (docs/architecture.md, "Wire types").
type (
	Status          = wire.Status
	Agent           = wire.Agent
	ContainerConfig = wire.ContainerConfig
)

// Agent statuses: see wire.Status.
const (
	StatusCreated  = wire.StatusCreated
	StatusStarting = wire.StatusStarting
	StatusRunning  = wire.StatusRunning
	StatusStopping = wire.StatusStopping
	StatusStopped  = wire.StatusStopped
	StatusExited   = wire.StatusExited
	StatusFailed   = wire.StatusFailed
	StatusMissing  = wire.StatusMissing
	StatusPaused   = wire.StatusPaused
	StatusDeleted  = wire.StatusDeleted
)

// The two kinds of agent network: see wire.ContainerConfig.Network.
const (
	NetworkEgress   = wire.NetworkEgress
	NetworkInternal = wire.NetworkInternal
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
