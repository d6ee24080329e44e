package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestQuotas: each limit holds at its edge, under concurrent requests too,
// and GET /api/system/limits shows limits and use.
func TestQuotas(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t, func(c *app.Config) {
		agents, running, mem, cpus, agentMem := 4, 2, int64(96<<20), 1.0, int64(64<<20)
		c.Quota = warder.Limits{Agents: &agents, RunningAgents: &running, MemoryBytes: &mem, CPUs: &cpus, AgentMemoryBytes: &agentMem}
	})
	ts.register(t, "root")
	c := ts.register(t, "alice")
	status, raw := c.Do("POST", "/api/agents", map[string]any{"name": "big", "container_config": map[string]any{"memory_limit": "128m"}})
	if status != http.StatusConflict || !strings.Contains(apitest.DetailOf(t, raw), "agent_memory_bytes") {
		t.Fatalf("an agent over the single-agent limit: %d %s", status, raw)
	}
	// Six concurrent creates against a limit of four: exactly four succeed.
	statuses := make([]int, 6)
	apitest.Parallel(6, func(i int) {
		statuses[i], _ = c.Do("POST", "/api/agents", map[string]any{"name": fmt.Sprintf("a%d", i),
			"container_config": map[string]any{"memory_limit": "48m", "cpu_limit": 0.25}})
	})
	created := 0
	for _, s := range statuses {
		if s == 201 {
			created++
		} else if s != http.StatusConflict {
			t.Fatalf("create under quota: %d", s)
		}
	}
	if created != 4 {
		t.Fatalf("%d agents created under a limit of 4", created)
	}
	var list []apitest.Agent
	c.MustDo("GET", "/api/agents", nil, 200, &list)
	// Four concurrent starts against two running agents (and 96m): two run.
	statuses = make([]int, 4)
	bodies := make([]string, 4)
	apitest.Parallel(4, func(i int) {
		s, raw := c.Do("POST", "/api/agents/"+list[i].ID+"/start", nil)
		statuses[i], bodies[i] = s, string(raw)
	})
	started := 0
	for i, s := range statuses {
		switch {
		case s == 200:
			started++
		case s != http.StatusConflict || !strings.Contains(bodies[i], "quota exceeded"):
			t.Fatalf("start under quota: %d %s", s, bodies[i])
		}
	}
	if started != 2 {
		t.Fatalf("%d agents started under a limit of 2", started)
	}
	var u warder.Usage
	c.MustDo("GET", "/api/system/limits", nil, 200, &u)
	if u.Used.Agents != 4 || u.Used.RunningAgents != 2 || u.Used.MemoryBytes != 96<<20 || *u.Limits.RunningAgents != 2 {
		t.Fatalf("limits = %+v", u)
	}
	status, raw = c.Do("GET", "/api/system/status", nil)
	if status != http.StatusForbidden {
		t.Fatalf("a user reading system status: %d %s", status, raw)
	}
}

// TestAdminDisable: an admin lists users and disables one: their token
// stops at once and their agents stop; enabled again, they can log in.
func TestAdminDisable(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	admin := ts.register(t, "root")
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("alices")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var users []warder.User
	admin.MustDo("GET", "/api/admin/users", nil, 200, &users)
	if len(users) != 2 {
		t.Fatalf("users = %+v", users)
	}
	alice.MustDo("GET", "/api/admin/users", nil, 403, nil)
	alice.MustDo("POST", "/api/admin/users/"+admin.UserID+"/disable", nil, 403, nil)
	admin.MustDo("POST", "/api/admin/users/"+admin.UserID+"/disable", nil, 409, nil)

	admin.MustDo("POST", "/api/admin/users/"+alice.UserID+"/disable", nil, 200, nil)
	if status, _ := alice.Do("GET", "/api/agents", nil); status != 401 {
		t.Fatalf("a disabled user's token still works: %d", status)
	}
	got := admin.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusStopped))
	if !strings.Contains(got.StatusReason, "disabled") {
		t.Fatalf("agent of the disabled user: %+v", got)
	}
	status, raw := (&apitest.Client{T: t, Base: ts.URL}).Do("POST", "/api/auth/login", map[string]string{"username": "alice", "password": "password-alice"})
	if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "disabled") {
		t.Fatalf("login while disabled = %d %s", status, raw)
	}
	admin.MustDo("POST", "/api/admin/users/"+alice.UserID+"/enable", nil, 200, nil)
	registerAgain := &apitest.Client{T: t, Base: ts.URL}
	registerAgain.MustDo("POST", "/api/auth/login", map[string]string{"username": "alice", "password": "password-alice"}, 200, nil)
	var st warder.SystemStatus
	admin.MustDo("GET", "/api/system/status", nil, 200, &st)
	if st.Users != 2 || st.Runtime != "ok" || st.AgentsByStatus[warder.StatusStopped] != 1 {
		t.Fatalf("system status = %+v", st)
	}
}
