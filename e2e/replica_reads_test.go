package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/apitest"
)

// TestReplicasAgentReads: GET /api/agents/{id} is answered from each
// replica's row cache, yet an edit shows at once on the replica that made
// it and within replicaWithin on the others, and so does a deletion.
func TestReplicasAgentReads(t *testing.T) {
	rs := replicas(t, 2)
	alice := rs[0].register(t, "alice")
	here, there := on(alice, rs[0]), on(alice, rs[1])
	a := here.CreateAgent("read-everywhere")
	path := "/api/agents/" + a.ID
	for range 3 { // both caches hold the row
		here.MustDo("GET", path, nil, 200, nil)
		there.MustDo("GET", path, nil, 200, nil)
	}
	description := func(c *apitest.Client) string {
		var got apitest.Agent
		c.MustDo("GET", path, nil, 200, &got)
		return got.Description
	}
	for i, edit := range []struct{ by, other *apitest.Client }{{here, there}, {there, here}} {
		want := []string{"edited here", "edited there"}[i]
		edit.by.MustDo("PATCH", path, map[string]any{"description": want}, 200, nil)
		at := time.Now()
		if got := description(edit.by); got != want {
			t.Fatalf("the replica that edited answers %q right after, want %q", got, want)
		}
		waitReplica(t, want+" on the other replica", at, func() bool { return description(edit.other) == want })
	}
	there.MustDo("DELETE", path, nil, 200, nil)
	at := time.Now()
	waitReplica(t, "the deletion on the other replica", at, func() bool {
		status, body := here.Do("GET", path, nil)
		if status != 404 && status != 200 {
			t.Fatalf("GET after the deletion: %d %s", status, body)
		}
		return status == 404 && json.Valid(body)
	})
}

// waitReplica polls ok until it holds, failing if that takes longer than
// replicaWithin after at (or 10 s in all).
func waitReplica(t *testing.T, what string, at time.Time, ok func() bool) {
	t.Helper()
	for !ok() {
		if time.Since(at) > 10*time.Second {
			t.Fatalf("%s: not seen after 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(at); took > replicaWithin {
		t.Errorf("%s: seen after %s, want within %s", what, took, replicaWithin)
	} else {
		t.Logf("%s: seen after %s", what, took.Round(time.Millisecond))
	}
}
