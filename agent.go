package warder

import (
	"context"
	"time"
)

// Status is Warder's view of an agent's lifecycle.
type Status string

// Agent statuses. "created" means no container has been made yet.
const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusStopped Status = "stopped"
	StatusError   Status = "error"
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

	Status          Status `json:"status"`
	ContainerID     string `json:"container_id"`
	ContainerName   string `json:"container_name"`
	ContainerStatus string `json:"container_status"`
	// HostPort is the port on the Docker host published to the agent's
	// port; 0 (shown as null) when the agent holds none.
	HostPort int `json:"host_port"`

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
}

// AgentFilter selects agents for listing. An empty UserID means all users.
type AgentFilter struct {
	UserID string
}

// AgentStore persists agents. Names are unique per user (ErrConflict), and
// host ports are unique across all agents (ErrConflict).
type AgentStore interface {
	CreateAgent(ctx context.Context, a *Agent) error
	// Agent returns the agent by id, or ErrNotFound.
	Agent(ctx context.Context, id string) (*Agent, error)
	ListAgents(ctx context.Context, f AgentFilter) ([]*Agent, error)
	// UpdateAgent writes every field of a, setting a.UpdatedAt.
	UpdateAgent(ctx context.Context, a *Agent) error
	DeleteAgent(ctx context.Context, id string) error

	// ClaimPort gives port to the agent if no other agent holds it and the
	// agent holds none (ErrConflict otherwise). Atomic across processes.
	ClaimPort(ctx context.Context, agentID string, port int) error
	// ReleasePort frees whatever port the agent holds. Safe to call twice.
	ReleasePort(ctx context.Context, agentID string) error
	// UsedPorts lists every port held by any agent.
	UsedPorts(ctx context.Context) ([]int, error)
}

// Store is everything Warder persists, behind one handle.
type Store interface {
	UserStore
	TokenStore
	AgentStore
	// Ping reports whether the database answers (ErrUnavailable if not).
	Ping(ctx context.Context) error
	Close() error
}
