package warder

import (
	"context"
	"strings"
	"time"
)

// KeyService manages a user's API keys.
type KeyService interface {
	// CreateAPIKey makes a key and returns it with its secret, which is
	// never shown again.
	CreateAPIKey(ctx context.Context, caller *User, req APIKeyCreate) (*APIKey, string, error)
	APIKeys(ctx context.Context, caller *User) ([]*APIKey, error)
	DeleteAPIKey(ctx context.Context, caller *User, id string) error
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

// Validate checks the request.
func (r *APIKeyCreate) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return Errorf(ErrInvalid, "name is required")
	}
	if err := validText("name", r.Name, 100); err != nil {
		return err
	}
	if r.ExpiresInDays < 0 || r.ExpiresInDays > 3650 {
		return Errorf(ErrInvalid, "expires_in_days must be between 0 (never) and 3650")
	}
	return nil
}

// AdminService is what only admins may do.
type AdminService interface {
	ListUsers(ctx context.Context, caller *User) ([]*User, error)
	// CreateUser makes a plain user, as registration would: the way in
	// when registration is closed.
	CreateUser(ctx context.Context, caller *User, req RegisterRequest) (*User, error)
	// SetUserDisabled disables a user (their tokens stop working at once
	// and their agents are stopped) or enables them again.
	SetUserDisabled(ctx context.Context, caller *User, id string, disabled bool) error
	SetUserLimits(ctx context.Context, caller *User, id string, l Limits) (Usage, error)
	// SystemStatus is overall health and use.
	SystemStatus(ctx context.Context, caller *User) (*SystemStatus, error)
	// Usage is a user's limits and use: the caller's own, or, for an
	// admin, anyone's.
	Usage(ctx context.Context, caller *User, userID string) (Usage, error)
}

// Usage is a user's effective limits beside what they use now.
type Usage struct {
	UserID string      `json:"user_id"`
	Limits Limits      `json:"limits"`
	Used   LimitsInUse `json:"used"`
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
	Database       string         `json:"database"`
	Docker         string         `json:"docker"`
	Users          int            `json:"users"`
	AgentsByStatus map[Status]int `json:"agents_by_status"`
	PortsInUse     int            `json:"ports_in_use"`
	PortRange      string         `json:"port_range"`
	CheckedAt      time.Time      `json:"checked_at"`
}
