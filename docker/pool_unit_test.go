package docker

import (
	"bufio"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// TestAgentOf: a container is its agent's by label; a pool container by
// the name a claim gave it, and nobody's while it keeps the pool's.
func TestAgentOf(t *testing.T) {
	pool := map[string]string{warder.LabelPool: "net", warder.LabelManaged: "net"}
	for _, tc := range []struct {
		labels map[string]string
		name   string
		id     string
		pooled bool
	}{
		{map[string]string{warder.LabelAgentID: "a1"}, "/warder-agent-a1", "a1", false},
		{map[string]string{warder.LabelAgentID: "a1"}, "/whatever", "a1", false},
		{pool, "/warder-agent-a2", "a2", true},
		{pool, "warder-agent-a2", "a2", true},
		{pool, "/warder-pool-0123", "", true},
		{pool, "/somebody-else", "", true},
	} {
		id, pooled := agentOf(tc.labels, tc.name)
		if id != tc.id || pooled != tc.pooled {
			t.Errorf("agentOf(%v, %q) = %q, %v; want %q, %v", tc.labels, tc.name, id, pooled, tc.id, tc.pooled)
		}
	}
}

// TestAwaitStartLine: the claim waits for warder-agent's start-up line
// after the logger's timestamp, naming the claiming agent, skipping long
// lines before it; another agent's line, or an output that ends first, is
// an error.
func TestAwaitStartLine(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct {
		out string
		ok  bool
	}{
		{"2026/11/30 08:00:00 warder-agent starting agent_id=a agent_name=x\n", true},
		{"2026/11/30 08:00:00 warder-agent starting agent_id=ab agent_name=x\n", false},
		{"2026/11/30 08:00:00 warder-agent starting agent_id=b agent_name=x\n", false},
		{"flood " + long + " warder-agent starting inside a line\n" + "2026/11/30 08:00:00 warder-agent starting agent_id=a port=8000\n", true},
		{"flood " + long + " warder-agent starting inside a line\n", false},
		{"a short line, warder-agent starting agent_id=a port=8000\n", false},
		{"", false},
		{"2026/11/30 08:00:00 claim: not a JSON object\n", false},
	} {
		err := awaitStartLine(bufio.NewReaderSize(strings.NewReader(tc.out), 4096), "a")
		if (err == nil) != tc.ok {
			t.Errorf("awaitStartLine(%.40q...) = %v, want ok %v", tc.out, err, tc.ok)
		}
	}
}
