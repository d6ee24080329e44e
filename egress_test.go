package warder

import (
	"testing"
	"time"
)

// TestEgressAuditRoundTrip: what the proxy's summaries write to the
// audit log, GET /api/agents/{id}/egress reads back; other entries are
// not taken for refusals.
func TestEgressAuditRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := EgressRefusal{Destination: "[2001:db8::1]:443", Reason: "not_listed", Count: 12, Last: at, Detail: "a: b (c)"}
	e := EgressAuditEntry(r, at.Add(-time.Minute), 403)
	got, ok := ParseEgressAudit(e)
	if !ok || got != r || e.Status != 403 {
		t.Fatalf("round trip: %+v %v from %+v", got, ok, e)
	}
	for _, other := range []*AuditEntry{
		{Action: "POST /api/agents/{id}/start", Result: "ok"},
		{Action: "egress refused (x) y", Result: "no count"},
	} {
		if _, ok := ParseEgressAudit(other); ok {
			t.Errorf("%+v read as a refusal", other)
		}
	}
}
