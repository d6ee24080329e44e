package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/service"
)

// twoServers starts two Warder servers, one deployment on one PostgreSQL
// database: the same network and port range, as two processes would be.
func twoServers(t *testing.T) (*testServer, *testServer) {
	t.Helper()
	url := testenv.Postgres(t)
	a := newTestServer(t, func(c *app.Config) { c.DatabaseURL = url })
	b := newTestServer(t, func(c *app.Config) { c.DatabaseURL = url; c.Network = a.Config.Network })
	return a, b
}

// TestPostgresTwoServers: two servers on one database never give a port
// to two agents, and what one writes the other reads at once.
func TestPostgresTwoServers(t *testing.T) {
	sa, sb := twoServers(t)
	ca := sa.register(t, "root")
	cb := &apitest.Client{T: t, Base: sb.URL, Token: ca.Token, UserID: ca.UserID}

	var seen apitest.Agent
	a := ca.CreateAgent("written-on-a")
	cb.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &seen)
	if seen.Name != "written-on-a" {
		t.Fatalf("server b reads %+v", seen)
	}

	const n = 40
	agents := make([]apitest.Agent, n)
	for i := range agents {
		agents[i] = ca.CreateAgent(fmt.Sprintf("agent-%02d", i))
	}
	apitest.Parallel(n, func(i int) {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		if status, raw := c.Do("POST", "/api/agents/"+agents[i].ID+"/start", nil); status != 200 {
			t.Errorf("start %d on server %d = %d %s", i, i%2, status, raw)
		}
	})
	var list []apitest.Agent
	cb.MustDo("GET", "/api/agents", nil, 200, &list)
	ports := map[int]string{}
	for _, ag := range list {
		if ag.Name == "written-on-a" {
			continue
		}
		if ag.Status != "running" || ag.HostPort == nil {
			t.Errorf("%s: %s, port %v", ag.Name, ag.Status, ag.HostPort)
			continue
		}
		if other, dup := ports[*ag.HostPort]; dup {
			t.Errorf("port %d given to %s and %s", *ag.HostPort, other, ag.Name)
		}
		ports[*ag.HostPort] = ag.Name
	}
	if len(ports) != n {
		t.Fatalf("%d distinct ports for %d agents", len(ports), n)
	}
	apitest.Parallel(n, func(i int) {
		c := cb
		if i%2 == 1 {
			c = ca
		}
		c.MustDo("DELETE", "/api/agents/"+agents[i].ID, nil, 200, nil)
	})
}

// TestPostgresRaces: racing registrations and agent creations over two
// servers end with one winner and clear 409s for the rest.
func TestPostgresRaces(t *testing.T) {
	t.Parallel()
	sa, sb := twoServers(t)
	ca := sa.register(t, "root")
	servers := []string{sa.URL, sb.URL}
	const n = 20
	statuses := make([]int, n)
	bodies := make([]string, n)
	apitest.Parallel(n, func(i int) {
		c := &apitest.Client{T: t, Base: servers[i%2]}
		status, raw := c.Do("POST", "/api/auth/register", map[string]string{
			"username": "contested", "email": fmt.Sprintf("c%d@example.com", i), "password": "password-x"})
		statuses[i], bodies[i] = status, string(raw)
	})
	wantOneWinner(t, "register", statuses, bodies, `username \"contested\" is already taken`)

	cb := &apitest.Client{T: t, Base: sb.URL, Token: ca.Token}
	apitest.Parallel(n, func(i int) {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		status, raw := c.Do("POST", "/api/agents", map[string]any{"name": "contested"})
		statuses[i], bodies[i] = status, string(raw)
	})
	wantOneWinner(t, "create agent", statuses, bodies, `an agent named \"contested\" already exists`)
}

func wantOneWinner(t *testing.T, what string, statuses []int, bodies []string, loserDetail string) {
	t.Helper()
	won := 0
	for i, s := range statuses {
		switch {
		case s == http.StatusCreated:
			won++
		case s != http.StatusConflict || !strings.Contains(bodies[i], loserDetail):
			t.Errorf("%s %d: %d %s", what, i, s, bodies[i])
		}
	}
	if won != 1 {
		t.Fatalf("%s: %d winners", what, won)
	}
}

// TestPostgresOutage: PostgreSQL stops under a running Warder: requests get
// a clear 503; it starts again: requests succeed with no restart of Warder.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPostgresServer(t)
	url := pg.NewDatabase(t)
	ts := newTestServer(t, func(c *app.Config) { c.DatabaseURL = url })
	c := ts.register(t, "root")
	a := c.CreateAgent("durable")

	pg.Stop(t)
	for _, path := range []string{"/api/agents", "/api/agents/" + a.ID, "/api/auth/me"} {
		if path == "/api/auth/me" {
			// It needs nothing but the caller, whom the credential cache
			// may vouch for a little longer (docs/security.md).
			time.Sleep(service.DefaultCredentialTTL)
		}
		began := time.Now()
		status, raw := c.Do("GET", path, nil)
		if status != http.StatusServiceUnavailable || !strings.Contains(apitest.DetailOf(t, raw), "database unavailable") {
			t.Errorf("GET %s with the database down = %d %s", path, status, raw)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("GET %s took %s to fail", path, d)
		}
	}
	status, raw := c.Do("GET", "/readyz", nil)
	if status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database down = %d %s", status, raw)
	}

	pg.Start(t)
	var got apitest.Agent
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
	if got.Name != "durable" {
		t.Fatalf("after the database came back: %+v", got)
	}
	c.MustDo("POST", "/api/agents", map[string]any{"name": "after-outage"}, 201, nil)
}

// TestSeedWalkthroughPostgres is the seed's walk-through on PostgreSQL.
func TestSeedWalkthroughPostgres(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	seedWalkthrough(t, newTestServer(t, func(c *app.Config) { c.DatabaseURL = url }))
}
