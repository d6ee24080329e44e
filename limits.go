package warder

import (
	"time"
)

// Limits are per-user quotas. In an override a nil field means "the
// operator's default"; in effect, 0 means unlimited.
type Limits struct {
	Agents           *int     `json:"agents"`
	RunningAgents    *int     `json:"running_agents"`
	MemoryBytes      *int64   `json:"memory_bytes"`
	CPUs             *float64 `json:"cpus"`
	AgentMemoryBytes *int64   `json:"agent_memory_bytes"`
	AgentCPUs        *float64 `json:"agent_cpus"`
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
