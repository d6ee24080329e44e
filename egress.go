package warder

import (
	"fmt"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// Egress is container_config.egress; AgentEgress and EgressRefusal are
// GET /api/agents/{id}/egress (docs/egress.md).
type (
	Egress        = wire.Egress
	AgentEgress   = wire.AgentEgress
	EgressRefusal = wire.EgressRefusal
)

// The words of container_config.egress that stand alone.
const (
	EgressNone = wire.EgressNone
	EgressAll  = wire.EgressAll
)

// EgressAuditAction begins the action of an audit entry that sums up
// the egress proxy's refusals of one agent, destination and reason over
// a period: the audit log keeps these, never a row per connection.
const EgressAuditAction = "egress refused"

// EgressAuditEntry is the audit entry of count refusals of an agent's
// connections to destination for reason between first and last.
func EgressAuditEntry(r EgressRefusal, first time.Time, status int) *AuditEntry {
	return &AuditEntry{
		At:     r.Last.UTC(),
		Action: fmt.Sprintf("%s (%s) %s", EgressAuditAction, r.Reason, r.Destination),
		Status: status,
		Result: fmt.Sprintf("%d refused since %s: %s", r.Count, first.UTC().Format(time.RFC3339), r.Detail),
	}
}

// ParseEgressAudit reads back what EgressAuditEntry wrote; false for
// any other entry.
func ParseEgressAudit(e *AuditEntry) (EgressRefusal, bool) {
	rest, ok := strings.CutPrefix(e.Action, EgressAuditAction+" (")
	if !ok {
		return EgressRefusal{}, false
	}
	reason, dest, ok := strings.Cut(rest, ") ")
	if !ok {
		return EgressRefusal{}, false
	}
	var count uint64
	if _, err := fmt.Sscanf(e.Result, "%d refused", &count); err != nil {
		return EgressRefusal{}, false
	}
	_, detail, _ := strings.Cut(e.Result, ": ")
	return EgressRefusal{Destination: dest, Reason: reason, Count: count, Last: e.At, Detail: detail}, true
}
