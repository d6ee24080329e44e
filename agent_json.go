package warder

import (
	"encoding/json"
	"time"
)

// agentFields is Agent without its JSON methods.
type agentFields Agent

// agentWire is an Agent as the API shows it: the fields tagged
// nullable:"true" on Agent are null while unset (zero).
type agentWire struct {
	agentFields
	HostPort        *int       `json:"host_port"`
	StatusChangedAt *time.Time `json:"status_changed_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
	Health          *string    `json:"health"`
}

// MarshalJSON writes the agent in the API's shape: host_port,
// status_changed_at, last_used_at and health are null while unset.
// Reading needs no method of its own: encoding/json leaves a field at its
// zero value for null. (An UnmarshalJSON here would also be promoted to
// every struct that embeds Agent, and take over its decoding.)
func (a Agent) MarshalJSON() ([]byte, error) {
	w := agentWire{agentFields: agentFields(a)}
	if a.HostPort != 0 {
		w.HostPort = &a.HostPort
	}
	if !a.StatusChangedAt.IsZero() {
		w.StatusChangedAt = &a.StatusChangedAt
	}
	if !a.LastUsedAt.IsZero() {
		w.LastUsedAt = &a.LastUsedAt
	}
	if a.Health != "" {
		w.Health = &a.Health
	}
	return json.Marshal(w)
}
