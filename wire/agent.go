package wire

import (
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
	StatusPaused   Status = "paused"   // frozen with its memory; resumed by the next request to it
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
	// AutoPauseMinutes pauses the running agent after that long without
	// use (the next request resumes it); 0 takes the operator's default
	// (WARDER_AUTO_PAUSE_MINUTES, off unless set), -1 never.
	AutoPauseMinutes float64 `json:"auto_pause_minutes"`
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
	// Isolation is "runc" or "gvisor" (gVisor's sandbox), within what the
	// operator allows; empty means the operator's default level, taken at
	// each create of the container (docs/security.md, "Isolation levels").
	Isolation string `json:"isolation"`
	// Egress is where the agent may connect: "none", "all", or a list of
	// destinations (docs/egress.md); left out, Network decides.
	Egress Egress `json:"egress,omitempty"`
}

// Clone returns c with maps and slices of its own.
func (c ContainerConfig) Clone() ContainerConfig {
	c.Egress = slices.Clone(c.Egress)
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

// AgentCreate is the body of POST /api/agents and PUT /api/agents/{id}, as
// the seed document writes it.
type AgentCreate struct {
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Type            string          `json:"type"`
	UserID          string          `json:"user_id"`
	Config          map[string]any  `json:"config"`
	ContainerConfig ContainerConfig `json:"container_config"`
	// KnowledgeBase is kept as sent; see Agent.KnowledgeBase.
	KnowledgeBase map[string]any `json:"knowledge_base"`
}

// AgentUpdate is the body of PATCH /api/agents/{id}: nil fields stay as they are.
type AgentUpdate struct {
	Name            *string                `json:"name"`
	Description     *string                `json:"description"`
	Type            *string                `json:"type"`
	Config          *map[string]any        `json:"config"`
	ContainerConfig *ContainerConfigUpdate `json:"container_config"`
	// KnowledgeBase replaces the agent's; {} clears it (null leaves it).
	KnowledgeBase *map[string]any `json:"knowledge_base"`
}

// AgentReplace is the body of PUT /api/agents/{id}. As in the original
// Warder, whose clients send only what they change, a field left out is
// kept: a PUT never wipes what its caller did not send. In
// container_config each field is kept or replaced on its own, and
// secret_env, when given, replaces all the secrets. UserID may be sent
// (a GET response carries it) but an agent keeps its owner.
type AgentReplace struct {
	AgentUpdate
	UserID *string `json:"user_id"`
}

// ContainerConfigUpdate changes only the container settings it sets.
type ContainerConfigUpdate struct {
	Image       *string            `json:"image"`
	MemoryLimit *string            `json:"memory_limit"`
	CPULimit    *float64           `json:"cpu_limit"`
	EnvVars     *map[string]string `json:"env_vars"`
	Port        *int               `json:"port"`
	// RestartPolicy and AutoStopMinutes: see ContainerConfig.
	RestartPolicy    *string  `json:"restart_policy"`
	AutoStopMinutes  *float64 `json:"auto_stop_minutes"`
	AutoPauseMinutes *float64 `json:"auto_pause_minutes"`
	// Network switches between "egress" and "internal".
	Network *string `json:"network"`
	// Isolation sets the isolation level; "" returns to the default.
	Isolation *string `json:"isolation"`
	// Egress replaces the agent's egress policy; the network follows it
	// unless Network is given too. Network given alone drops the policy,
	// back to the network's meaning.
	Egress *Egress `json:"egress"`
	// AutoStart is kept with the agent; it acts only at create.
	AutoStart *bool `json:"auto_start"`
	// SecretEnv, when given, replaces all of the agent's secrets.
	SecretEnv *map[string]string `json:"secret_env"`
	// SecretEnvNames is accepted so a GET response can be sent back; it is
	// derived from the secrets and ignored here.
	SecretEnvNames []string `json:"secret_env_names"`
}

// Apply merges u into a copy of c.
func (u *ContainerConfigUpdate) Apply(c ContainerConfig) ContainerConfig {
	if u.Image != nil {
		c.Image = *u.Image
	}
	if u.MemoryLimit != nil {
		c.MemoryLimit = *u.MemoryLimit
	}
	if u.CPULimit != nil {
		c.CPULimit = *u.CPULimit
	}
	if u.EnvVars != nil {
		c.EnvVars = *u.EnvVars
	}
	if u.Port != nil {
		c.Port = *u.Port
	}
	if u.RestartPolicy != nil {
		c.RestartPolicy = *u.RestartPolicy
	}
	if u.AutoStopMinutes != nil {
		c.AutoStopMinutes = *u.AutoStopMinutes
	}
	if u.AutoPauseMinutes != nil {
		c.AutoPauseMinutes = *u.AutoPauseMinutes
	}
	if u.Network != nil {
		c.Network = *u.Network
	}
	if u.Isolation != nil {
		c.Isolation = *u.Isolation
	}
	switch {
	case u.Egress != nil:
		c.Egress = *u.Egress
		if u.Network == nil {
			c.Network = "" // derived from the policy
		}
	case u.Network != nil:
		c.Egress = nil
	}
	if u.AutoStart != nil {
		c.AutoStart = *u.AutoStart
	}
	if u.SecretEnv != nil {
		c.SecretEnv = *u.SecretEnv
		if c.SecretEnv == nil {
			c.SecretEnv = map[string]string{} // null clears them, as {} does
		}
	}
	return c
}
