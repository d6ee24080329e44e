package e2e

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// ourBackground are the frames of Warder's background work: the event
// follower and its reconciles, maintenance, the stats collector and its
// streams, the runtime setup loop, the leadership lease and status feed.
var ourBackground = []string{"warder/service.", "warder/stats.", "warder/broker.", "warder/internal/app.(*App)", "warder/sqlstore.(*DB).Lead", "warder/sqlstore.(*Feed)"}

// TestShutdownLeavesNoGoroutines: once the background work's context ends
// and Close's wait returns, no goroutine of it is left, even with events
// being reconciled and stats being followed when the shutdown comes; so
// the store is closed only after the last of them.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		a := c.CreateAgent(name)
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		c.MustDo("GET", "/api/agents/"+a.ID+"/stats", nil, 200, nil) // a stats stream followed
		ids = append(ids, a.ID)
	}
	if n := countOurs(); n == 0 {
		t.Fatal("no background goroutine is running, so the check below proves nothing")
	}
	for _, id := range ids { // events in flight as the shutdown begins
		c.MustDo("POST", "/api/agents/"+id+"/stop", nil, 200, nil)
	}
	ts.Stop()
	ts.App.Handler().CloseStreams()
	done := make(chan struct{})
	go func() { ts.App.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the background work did not end within 30 s of its context:\n%s", ours())
	}
	if left := ours(); left != "" {
		t.Fatalf("goroutines left after the background work ended:\n%s", left)
	}
}

// ours returns the stacks of goroutines running Warder's background code.
func ours() string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, frame := range ourBackground {
			if strings.Contains(g, frame) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}

func countOurs() int {
	if s := ours(); s != "" {
		return strings.Count(s, "goroutine ")
	}
	return 0
}
