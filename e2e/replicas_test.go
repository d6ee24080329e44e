package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// replicaWithin is how soon a change made on one replica reaches the
// event streams of every replica.
const replicaWithin = time.Second

// replicas starts n in-process Warders as replicas of one deployment:
// one PostgreSQL database, one network, one host-port range, one secret
// key. Each has its own HTTP server and background work; one of them
// holds the leadership lease.
func replicas(t *testing.T, n int) []*testServer {
	t.Helper()
	return replicasOn(t, testenv.Postgres(t), n)
}

// replicasOn is replicas on the database at url.
func replicasOn(t *testing.T, url string, n int) []*testServer {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	first := newTestServer(t, func(c *app.Config) {
		c.DatabaseURL, c.SecretKey = url, hex.EncodeToString(key)
		c.Network = e2etest.Network(t, "wrep-net-")
	})
	rs := []*testServer{first}
	for len(rs) < n {
		rs = append(rs, newTestServer(t, func(c *app.Config) {
			c.DatabaseURL, c.SecretKey, c.Network = url, hex.EncodeToString(key), first.Config.Network
			c.PortStart, c.PortEnd = first.Config.PortStart, first.Config.PortEnd
		}))
	}
	return rs
}

// on is c talking to another replica, with the same credential.
func on(c *apitest.Client, r *testServer) *apitest.Client {
	return &apitest.Client{T: c.T, Base: r.URL, Token: c.Token, UserID: c.UserID}
}

// leaders counts the replicas that say they hold the leadership lease.
func leaders(t *testing.T, bases ...string) (n int, which int) {
	t.Helper()
	which = -1
	for i, b := range bases {
		if apitest.Metric(apitest.Scrape(t, b), "warder_leader") == 1 {
			n++
			which = i
		}
	}
	return n, which
}

// TestReplicasShareEvents: a status change made through one replica, and
// one Docker reports (a kill behind Warder's back, seen by the leader),
// reach the /api/events streams of all three replicas within a second,
// with the same ids everywhere; exactly one replica leads.
func TestReplicasShareEvents(t *testing.T) {
	rs := replicas(t, 3)
	root := rs[0].register(t, "root")
	alice := rs[0].register(t, "alice")
	bob := rs[0].register(t, "bob")
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := leaders(t, rs[0].URL, rs[1].URL, rs[2].URL)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas lead", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	streams := make([]*apitest.LiveStream, len(rs))
	for i, r := range rs {
		streams[i] = on(alice, r).Open("/api/events", true)
	}
	bobs := on(bob, rs[2]).Open("/api/events", true)
	admins := on(root, rs[1]).Open("/api/events", true)

	a := on(alice, rs[1]).CreateAgent("everywhere")
	on(alice, rs[2]).MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = alice.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))
	var worst time.Duration
	defer func() {
		t.Logf("every change reached every replica's stream within %s of being recorded", worst.Round(time.Millisecond))
	}()
	expect := func(want ...warder.Status) {
		t.Helper()
		ids := map[warder.Status]string{}
		for i, s := range append(streams, admins) {
			for _, to := range want {
				ev := s.Next(t, 5*time.Second)
				var c warder.StatusChange
				ev.Decode(t, &c)
				late := ev.Received.Sub(c.At)
				if c.AgentID != a.ID || c.To != to || ev.ID != fmt.Sprint(c.ID) {
					t.Fatalf("stream %d: got %s %s, want %s", i, ev.ID, ev.Data, to)
				}
				if late > replicaWithin {
					t.Errorf("stream %d: %s reached it %s after it was recorded", i, to, late)
				}
				if late > worst {
					worst = late
				}
				if i == 0 {
					ids[to] = ev.ID
				} else if ev.ID != ids[to] {
					t.Errorf("stream %d: %s has id %s, stream 0 had %s", i, to, ev.ID, ids[to])
				}
			}
		}
	}

	expect(warder.StatusStarting, warder.StatusRunning)

	// Docker's news is the leader's to record, and everyone's to hear.
	cli := dockerClient(t)
	if _, err := cli.ContainerKill(context.Background(), a.ContainerID, moby.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	expect(warder.StatusExited)
	var hist warder.AgentEventsResponse
	on(alice, rs[0]).MustDo("GET", "/api/agents/"+a.ID+"/events", nil, 200, &hist)
	if last := hist.Events[len(hist.Events)-1]; last.To != warder.StatusExited || last.Actor != "docker" {
		t.Fatalf("history ends with %+v", last)
	}
	if n := countActor(hist.Events, "docker"); n != 1 {
		t.Errorf("the kill was recorded %d times: %+v", n, hist.Events)
	}
	on(alice, rs[2]).MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	expect(warder.StatusDeleted)
	select {
	case ev := <-bobs.Events:
		t.Fatalf("bob saw alice's agent: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

func countActor(evs []*warder.AgentEvent, actor string) int {
	n := 0
	for _, e := range evs {
		if e.Actor == actor {
			n++
		}
	}
	return n
}

// TestReplicasShareThrottles: registrations and failed logins raced over
// three replicas get the allowance of one Warder, not three: exactly 21
// registrations from one address get past the throttle (the 20 free and
// the one that sets the lock), exactly 6 logins to one account are
// checked.
func TestReplicasShareThrottles(t *testing.T) {
	rs := replicas(t, 3)
	const n = 60
	statuses := make([]int, n)
	bodies := make([]string, n)
	// Registration of a taken name counts and costs no password hash.
	rs[0].register(t, "root")   // 1 of the 20
	rs[1].register(t, "victim") // 2
	apitest.Parallel(n, func(i int) {
		c := &apitest.Client{T: t, Base: rs[i%3].URL}
		status, raw := c.Do("POST", "/api/auth/register", map[string]string{
			"username": "root", "email": fmt.Sprintf("race%d@example.com", i), "password": "password-long"})
		statuses[i], bodies[i] = status, string(raw)
	})
	if passed := countPassed(t, statuses, bodies, "registrations"); passed != 19 {
		t.Fatalf("%d racing registrations got past the throttle; want 19 (21 in all, two before)", passed)
	}

	apitest.Parallel(n/2, func(i int) {
		status, raw := apitest.TokenForm(t, rs[i%3].URL, "victim", "wrong-password")
		statuses[i], bodies[i] = status, string(raw)
	})
	if passed := countPassed(t, statuses[:n/2], bodies[:n/2], "failed logins"); passed != 6 {
		t.Fatalf("%d racing wrong logins were checked; want 6", passed)
	}
}

// countPassed counts the answers that are not the throttle's 429 (which
// must name what) and fails on anything unexpected.
func countPassed(t *testing.T, statuses []int, bodies []string, what string) int {
	t.Helper()
	passed := 0
	for i, s := range statuses {
		switch {
		case s == http.StatusTooManyRequests && strings.Contains(bodies[i], "too many "+what):
		case s == http.StatusConflict, s == http.StatusUnauthorized:
			passed++
		default:
			t.Errorf("answer %d: %d %s", i, s, bodies[i])
		}
	}
	return passed
}

// TestReplicasShareQuotas: creations and starts of one user's agents,
// raced over three replicas, stop exactly at the quota.
func TestReplicasShareQuotas(t *testing.T) {
	rs := replicas(t, 3)
	root := rs[0].register(t, "root")
	alice := rs[0].register(t, "alice")
	root.MustDo("PUT", "/api/admin/users/"+alice.UserID+"/limits", map[string]any{"agents": 4, "running_agents": 2}, 200, nil)

	const n = 12
	statuses := make([]int, n)
	bodies := make([]string, n)
	ids := make([]string, n)
	apitest.Parallel(n, func(i int) {
		var a apitest.Agent
		status, raw := on(alice, rs[i%3]).Do("POST", "/api/agents", map[string]any{"name": fmt.Sprintf("q%02d", i)})
		statuses[i], bodies[i] = status, string(raw)
		if status == 201 {
			if err := json.Unmarshal(raw, &a); err == nil {
				ids[i] = a.ID
			}
		}
	})
	var created []string
	for i, s := range statuses {
		switch {
		case s == 201:
			created = append(created, ids[i])
		case s != 409 || !strings.Contains(bodies[i], "quota exceeded"):
			t.Errorf("create %d: %d %s", i, s, bodies[i])
		}
	}
	if len(created) != 4 {
		t.Fatalf("%d agents created against a quota of 4", len(created))
	}

	started := make([]int, len(created))
	var running atomic.Int32
	apitest.Parallel(len(created), func(i int) {
		status, raw := on(alice, rs[i%3]).Do("POST", "/api/agents/"+created[i]+"/start", nil)
		started[i] = status
		switch {
		case status == 200:
			running.Add(1)
		case status != 409 || !strings.Contains(string(raw), "quota exceeded"):
			t.Errorf("start %d: %d %s", i, status, raw)
		}
	})
	if running.Load() != 2 {
		t.Fatalf("%d agents started against a running quota of 2: %v", running.Load(), started)
	}
}

// TestReplicasRevocation: logging out, revoking a key and disabling the
// user through one replica end the credential's streams on the others
// within seconds.
func TestReplicasRevocation(t *testing.T) {
	rs := replicas(t, 3)
	root := rs[0].register(t, "root")
	alice := rs[0].register(t, "alice")
	withKey, k := alice.NewKey(map[string]any{"name": "elsewhere"})

	streams := []openStream{watchLive("events on 1", on(alice, rs[1]).Open("/api/events", true)), watchLive("events on 2", on(alice, rs[2]).Open("/api/events", true))}
	at := time.Now()
	alice.MustDo("POST", "/api/auth/logout", nil, 200, nil)
	wantAllEnded(t, "logout on replica 0", at, streams)

	owner := alice.Login("alice")
	streams = []openStream{watchLive("key events on 1", on(withKey, rs[1]).Open("/api/events", true)), watchLive("key events on 2", on(withKey, rs[2]).Open("/api/events", true))}
	at = time.Now()
	owner.MustDo("DELETE", "/api/auth/keys/"+k.ID, nil, 200, nil)
	wantAllEnded(t, "revoking the key on replica 0", at, streams)

	streams = []openStream{watchLive("events on 1", on(owner, rs[1]).Open("/api/events", true)), watchLive("events on 2", on(owner, rs[2]).Open("/api/events", true))}
	at = time.Now()
	root.MustDo("POST", "/api/admin/users/"+owner.UserID+"/disable", nil, 200, nil)
	wantAllEnded(t, "disabling the user on replica 0", at, streams)
}

// TestReplicasOutage: PostgreSQL stops under two replicas: requests that
// need it (a login, a start) get 503; it starts again: they succeed with
// no restart, one replica leads again, and an event stream opened before
// the outage gets the changes made after it.
func TestReplicasOutage(t *testing.T) {
	pg := testenv.NewPostgresServer(t)
	rs := replicasOn(t, pg.NewDatabase(t), 2)
	root := rs[0].register(t, "root")
	a := root.CreateAgent("durable")
	s := on(root, rs[1]).Open("/api/events", true)

	pg.Stop(t)
	if status, raw := apitest.TokenForm(t, rs[1].URL, "root", "wrong-password"); status != http.StatusServiceUnavailable || !strings.Contains(string(raw), "database unavailable") {
		t.Errorf("a login with the database down = %d %s", status, raw)
	}
	if status, raw := root.Do("POST", "/api/agents/"+a.ID+"/start", nil); status != http.StatusServiceUnavailable {
		t.Errorf("a start with the database down = %d %s", status, raw)
	}

	pg.Start(t)
	// A pooled connection the server closed may fail one request more
	// (pgx checks only those idle for over a second before use).
	for deadline := time.Now().Add(10 * time.Second); ; {
		status, raw := root.Do("POST", "/api/agents/"+a.ID+"/start", nil)
		if status == 200 {
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a start after the database came back = %d %s", status, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []warder.Status{warder.StatusStarting, warder.StatusRunning} {
		var c warder.StatusChange
		s.Next(t, 10*time.Second).Decode(t, &c)
		if c.AgentID != a.ID || c.To != want {
			t.Fatalf("the stream opened before the outage got %+v, want %s", c, want)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := leaders(t, rs[0].URL, rs[1].URL)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas lead after the outage", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
