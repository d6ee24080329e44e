package metrics

import (
	"strings"
	"testing"
)

// TestConnectionMetrics: the API listener's counts are scraped as they
// are at the scrape.
func TestConnectionMetrics(t *testing.T) {
	m := New()
	counts := Connections{Open: 7, RefusedAddress: 3, RefusedTotal: 2, ClosedIdle: 1}
	m.WatchConnections(func() Connections { return counts })
	counts.Open = 5
	out := scrape(t, m)
	for _, want := range []string{
		"warder_http_connections_open 5\n",
		`warder_http_connections_refused_total{cap="address"} 3` + "\n",
		`warder_http_connections_refused_total{cap="total"} 2` + "\n",
		"warder_http_connections_idle_closed_total 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
