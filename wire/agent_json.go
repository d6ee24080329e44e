package wire

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
func (a Agent) MarshalJSON() ([]byte, error) { return json.Marshal(a.wire()) }

// AgentsWire is list in the API's shape, as a value an encoder writes in
// one pass: the same JSON as list itself, minus a cost that dominates
// long lists. encoding/json re-reads and compacts whatever a MarshalJSON
// returns, so writing 1,000 agents through it parses each one's output
// again; the values returned here have no method, so nothing is read
// twice.
func AgentsWire(list []*Agent) any {
	out := make([]agentWire, len(list))
	for i, a := range list {
		out[i] = a.wire()
	}
	return out
}

// wire is a as the API shows it.
func (a Agent) wire() agentWire {
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
	return w
}
