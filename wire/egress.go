package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// Egress is container_config.egress: where the agent may connect. Nil
// (the field left out, or null) keeps the older meaning, the network
// decides ("egress" is everything, "internal" nothing); ["none"] is
// nothing, ["all"] everything public, and any other list names the
// destinations reached through Warder's egress proxy (docs/egress.md).
// In JSON a single word is written as a string: "none", "all", or a
// list of destinations.
type Egress []string

// Words of Egress that stand alone.
const (
	EgressNone = "none"
	EgressAll  = "all"
)

// Listed reports whether e is a list of destinations, which the egress
// proxy enforces, rather than unset, "none" or "all".
func (e Egress) Listed() bool {
	return len(e) > 0 && !(len(e) == 1 && (e[0] == EgressNone || e[0] == EgressAll))
}

// MarshalJSON writes a single word as a string, a list as a list.
func (e Egress) MarshalJSON() ([]byte, error) {
	if len(e) == 1 && (e[0] == EgressNone || e[0] == EgressAll) {
		return json.Marshal(e[0])
	}
	return json.Marshal([]string(e))
}

// UnmarshalJSON reads a string (one word) or a list of strings.
func (e *Egress) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*e = nil
		return nil
	}
	var word string
	if err := json.Unmarshal(b, &word); err == nil {
		*e = Egress{word}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`container_config.egress must be "none", "all" or a list of destinations`)
	}
	if list == nil {
		list = []string{}
	}
	*e = list
	return nil
}

// AgentEgress is GET /api/agents/{id}/egress: the agent's egress policy
// as enforced now, and the refusals of its recent past.
type AgentEgress struct {
	// Egress is the policy in force: "none", "all", or the list (the
	// agent's own, less any entry the operator's ceiling no longer
	// allows).
	Egress Egress `json:"egress"`
	// Proxied is true when the agent reaches the outside only through
	// Warder's egress proxy (a list), with HTTP_PROXY and HTTPS_PROXY set.
	Proxied bool `json:"proxied"`
	// Network is the Docker network kind the agent sits on.
	Network string `json:"network"`
	// Since is the start of the period the refusals cover.
	Since time.Time `json:"since"`
	// Refused is the total of Refusals' counts.
	Refused uint64 `json:"refused"`
	// Refusals are the proxy's refusals of this agent's connections since
	// Since, by destination and reason, most recent first (the audit
	// log's summaries: they lag by up to a minute).
	Refusals []EgressRefusal `json:"refusals"`
}

// EgressRefusal is the refusals of one destination for one reason.
type EgressRefusal struct {
	Destination string    `json:"destination"`
	Reason      string    `json:"reason"`
	Count       uint64    `json:"count"`
	Last        time.Time `json:"last"`
	Detail      string    `json:"detail"`
}
