package service

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
)

func TestDerive(t *testing.T) {
	t.Parallel()
	agent := func(status warder.Status, cid string) *warder.Agent {
		return &warder.Agent{Status: status, ContainerID: cid, ContainerConfig: warder.ContainerConfig{MemoryLimit: "16m"}}
	}
	tests := []struct {
		name   string
		a      *warder.Agent
		st     *warder.WorkloadState
		want   warder.Status
		reason string
	}{
		{"never started", agent(warder.StatusCreated, ""), nil, warder.StatusCreated, ""},
		{"removed behind our back", agent(warder.StatusRunning, "c1"), nil, warder.StatusMissing, "removed outside Warder"},
		{"running", agent(warder.StatusStarting, "c1"), &warder.WorkloadState{Phase: warder.PhaseRunning}, warder.StatusRunning, ""},
		{"running while a stop is under way", agent(warder.StatusStopping, "c1"), &warder.WorkloadState{Phase: warder.PhaseRunning}, warder.StatusStopping, ""},
		{"stopped by a user", agent(warder.StatusStopping, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 0}, warder.StatusStopped, ""},
		{"killed after a user's stop", agent(warder.StatusStopped, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137}, warder.StatusStopped, ""},
		{"exited on its own", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 0}, warder.StatusExited, "exited with code 0"},
		{"crashed once", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 3}, warder.StatusExited, "exited with code 3"},
		{"docker kill", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137}, warder.StatusExited, "code 137"},
		{"paused by a user", agent(warder.StatusPaused, "c1"), &warder.WorkloadState{Phase: warder.PhasePaused}, warder.StatusPaused, ""},
		{"paused outside", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhasePaused}, warder.StatusPaused, "paused outside Warder"},
		{"paused while stopping", agent(warder.StatusStopping, "c1"), &warder.WorkloadState{Phase: warder.PhasePaused}, warder.StatusStopping, ""},
		{"OOM", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137, OOMKilled: true}, warder.StatusFailed, "OOMKilled"},
		{"crash loop ended", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 3, RestartCount: 3}, warder.StatusFailed, "crash loop"},
		{"crash loop going on", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseRestarting, ExitCode: 3, RestartCount: 5}, warder.StatusFailed, "crash loop"},
		{"restarting", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseRestarting, ExitCode: 3, RestartCount: 1}, warder.StatusStarting, "restarting after exit code 3"},
		{"start under way", agent(warder.StatusStarting, "c1"), &warder.WorkloadState{Phase: warder.PhaseCreated}, warder.StatusStarting, ""},
		{"created, never started", agent(warder.StatusFailed, "c1"), &warder.WorkloadState{Phase: warder.PhaseCreated}, warder.StatusCreated, "never started"},
		{"start error", agent(warder.StatusRunning, "c1"), &warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 128, Error: "port is already allocated"}, warder.StatusFailed, "start failed: port is already allocated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := derive(tt.a, tt.st)
			if got != tt.want || !strings.Contains(reason, tt.reason) {
				t.Fatalf("derive = %s %q, want %s containing %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestResync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "root")
	crashed, gone, stuck, adopted, stopping := mustAgent(t, s, u, "crashed"), mustAgent(t, s, u, "gone"), mustAgent(t, s, u, "stuck"), mustAgent(t, s, u, "adopted"), mustAgent(t, s, u, "stopping")
	for _, a := range []*warder.Agent{crashed, gone, stopping} {
		if _, err := s.Agents.StartAgent(ctx, u, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	load := func(a *warder.Agent) *warder.Agent {
		got, err := s.Agents.store.Agent(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	crashed, gone, stopping = load(crashed), load(gone), load(stopping)
	// Behind Warder's back: one container is OOM-killed, one removed, an
	// orphan appears, and a start and a stop are cut short by a kill -9.
	rt.Set(crashed.ContainerID, warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137, OOMKilled: true, FinishedAt: time.Now()})
	rt.Remove(ctx, gone.ContainerID)
	orphan, _ := rt.Create(ctx, warder.WorkloadSpec{Name: "warder-agent-00000000-0000-0000-0000-000000000000", AgentID: "00000000-0000-0000-0000-000000000000", Labels: map[string]string{warder.LabelAgentID: "00000000-0000-0000-0000-000000000000"}})
	stuck.Status = warder.StatusStarting
	s.Agents.store.UpdateAgent(ctx, stuck)
	adoptedSpec := warder.WorkloadSpec{Name: warder.ContainerName(adopted.ID), AgentID: adopted.ID, Labels: map[string]string{warder.LabelAgentID: adopted.ID}}
	adoptedID, _ := rt.Create(ctx, adoptedSpec)
	rt.Start(ctx, adoptedID)
	adopted.Status = warder.StatusStarting
	s.Agents.store.UpdateAgent(ctx, adopted)
	stopping.Status = warder.StatusStopping
	s.Agents.store.UpdateAgent(ctx, stopping)

	if err := s.Observe.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		a      *warder.Agent
		status warder.Status
		reason string
	}{
		{crashed, warder.StatusFailed, "OOMKilled"},
		{gone, warder.StatusMissing, "removed outside Warder"},
		{stuck, warder.StatusFailed, "start interrupted"},
		{adopted, warder.StatusRunning, ""},
		{stopping, warder.StatusStopped, ""},
	}
	for _, c := range checks {
		got := load(c.a)
		if got.Status != c.status || !strings.Contains(got.StatusReason, c.reason) {
			t.Errorf("%s: %s %q, want %s %q", got.Name, got.Status, got.StatusReason, c.status, c.reason)
		}
	}
	if got := load(crashed); got.ExitCode == nil || *got.ExitCode != 137 {
		t.Errorf("crashed exit code = %v", got.ExitCode)
	}
	if got := load(adopted); got.ContainerID != adoptedID {
		t.Errorf("adopted container id = %q, want %q", got.ContainerID, adoptedID)
	}
	if _, err := rt.Inspect(ctx, orphan); !errors.Is(err, warder.ErrNotFound) {
		t.Errorf("orphan container survived resync: %v", err)
	}
	if st, _ := rt.Inspect(ctx, stopping.ContainerID); st.Running() {
		t.Error("an interrupted stop was not finished")
	}
	events, _ := s.Agents.store.AgentEvents(ctx, crashed.ID, 10)
	last := events[len(events)-1]
	if last.From != warder.StatusRunning || last.To != warder.StatusFailed || last.Actor != "resync" {
		t.Errorf("crashed history ends with %+v", last)
	}
	// A second resync finds nothing to change and records nothing.
	if err := s.Observe.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Agents.store.AgentEvents(ctx, crashed.ID, 10); len(again) != len(events) {
		t.Errorf("an idle resync added %d events", len(again)-len(events))
	}
}

// listThen is the fake runtime whose next List runs then after it has
// listed: work that finishes while a resync goes through its listing.
type listThen struct {
	*runtimetest.Fake
	then func()
}

func (l *listThen) List(ctx context.Context) ([]warder.WorkloadState, error) {
	res, err := l.Fake.List(ctx)
	if then := l.then; then != nil {
		l.then = nil
		then()
	}
	return res, err
}

// TestResyncStaleListing: a start and a stop that finish after a resync
// listed the containers (and before it reached their agents) are not
// undone by the listing: the started agent stays running, not missing,
// and the stopped one stopped, not running.
func TestResyncStaleListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var lt *listThen
	s, rt := newTestServiceOn(t, func(f *runtimetest.Fake) warder.Runtime { lt = &listThen{Fake: f}; return lt }, 10)
	u := mustUser(t, s, "root")
	started, stopped := mustAgent(t, s, u, "started"), mustAgent(t, s, u, "stopped")
	if _, err := s.Agents.StartAgent(ctx, u, stopped.ID); err != nil {
		t.Fatal(err)
	}
	lt.then = func() {
		if _, err := s.Agents.StartAgent(ctx, u, started.ID); err != nil {
			t.Error(err)
		}
		if _, err := s.Agents.StopAgent(ctx, u, stopped.ID); err != nil {
			t.Error(err)
		}
	}
	if err := s.Observe.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if lt.then != nil {
		t.Fatal("the resync did not list")
	}
	for _, c := range []struct {
		id   string
		want warder.Status
	}{{started.ID, warder.StatusRunning}, {stopped.ID, warder.StatusStopped}} {
		a, err := s.Agents.store.Agent(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != c.want {
			t.Errorf("%s: %s %q after the resync, want %s", a.Name, a.Status, a.StatusReason, c.want)
		}
		if _, err := rt.Inspect(ctx, a.ContainerID); err != nil {
			t.Errorf("%s: its container %s: %v", a.Name, a.ContainerID, err)
		}
	}
}

func TestStartRetriesOnANewPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")
	rt.FailStarts(1)
	got, err := s.Agents.StartAgent(ctx, u, a.ID)
	if err != nil || got.Status != warder.StatusRunning || got.HostPort != 20001 || rt.Count() != 1 {
		t.Fatalf("start after one failure: %v %+v (%d containers)", err, got, rt.Count())
	}
	b := mustAgent(t, s, u, "b")
	rt.FailStarts(2)
	_, err = s.Agents.StartAgent(ctx, u, b.ID)
	if !errors.Is(err, warder.ErrConflict) || !strings.Contains(err.Error(), "could not be started") {
		t.Fatalf("start failing twice: %v", err)
	}
	got, _ = s.Agents.store.Agent(ctx, b.ID)
	if got.Status != warder.StatusFailed || got.HostPort != 0 || got.ContainerID != "" || rt.Count() != 1 {
		t.Fatalf("after a failed start: %+v (%d containers): the port or container leaked", got, rt.Count())
	}
}

func TestStopIdle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "root")
	create := func(name string, minutes float64) *warder.Agent {
		a, err := s.Agents.CreateAgent(ctx, u, warder.AgentCreate{Name: name, ContainerConfig: warder.ContainerConfig{AutoStopMinutes: minutes}})
		if err != nil {
			t.Fatal(err)
		}
		if a, err = s.Agents.StartAgent(ctx, u, a.ID); err != nil {
			t.Fatal(err)
		}
		return a
	}
	idle, used, never := create("idle", 1), create("used", 1), create("never", 0)
	later := time.Now().Add(90 * time.Second)
	if err := s.Agents.store.TouchAgent(ctx, used.ID, later.Add(-10*time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Observe.StopIdle(ctx, later)
	if err != nil || n != 1 {
		t.Fatalf("StopIdle = %d, %v; want 1", n, err)
	}
	for _, c := range []struct {
		a    *warder.Agent
		want warder.Status
	}{{idle, warder.StatusStopped}, {used, warder.StatusRunning}, {never, warder.StatusRunning}} {
		got, _ := s.Agents.store.Agent(ctx, c.a.ID)
		if got.Status != c.want {
			t.Errorf("%s: %s, want %s", got.Name, got.Status, c.want)
		}
	}
	got, _ := s.Agents.store.Agent(ctx, idle.ID)
	if !strings.Contains(got.StatusReason, "without use") {
		t.Errorf("idle reason = %q", got.StatusReason)
	}
	if st, _ := rt.Inspect(ctx, idle.ContainerID); st.Running() {
		t.Error("idle container still running")
	}
}

// TestRestartingIsNoInterruptedStart: an agent reported starting because
// its runtime restarts it (a back-off between restarts, as Kubernetes'
// CrashLoopBackOff) is left starting by the settling of interrupted
// operations; only a start Warder itself left in flight is failed.
func TestRestartingIsNoInterruptedStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "restarting")
	if _, err := s.Agents.StartAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Agents.store.Agent(ctx, a.ID)
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseRestarting, ExitCode: 4, RestartCount: 1})
	if err := s.Observe.reconcile(ctx, a.ID, reconcileOpts{actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Observe.settleStale(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Agents.store.Agent(ctx, a.ID)
	if a.Status != warder.StatusStarting || !strings.Contains(a.StatusReason, "restarting after exit code 4") {
		t.Fatalf("a restarting agent after settling: %s (%s)", a.Status, a.StatusReason)
	}
}

// bounded is the fake runtime as Docker is: restart policies, and
// on-failure:N ends by itself after N restarts.
type bounded struct{ *runtimetest.Fake }

func (b bounded) Info() warder.RuntimeInfo {
	info := b.Fake.Info()
	info.RestartPolicies, info.BoundedRestarts = true, true
	return info
}

// TestCrashLoopLastRestart: under on-failure:N on a runtime that stops
// after N restarts, the last restart is not stopped by Warder (which
// would record its SIGTERM, exit 143, as the agent's): the agent is
// restarting until that run's exit, then failed with the agent's own
// code. A longer policy is given up at the crash-loop rule, as before.
func TestCrashLoopLastRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestServiceOn(t, func(f *runtimetest.Fake) warder.Runtime { return bounded{f} }, 10)
	u := mustUser(t, s, "root")
	for _, c := range []struct {
		policy  string
		stopped bool
	}{{"on-failure:3", false}, {"on-failure:5", true}} {
		a, err := s.Agents.CreateAgent(ctx, u, warder.AgentCreate{Name: "crasher-" + c.policy[len("on-failure:"):],
			ContainerConfig: warder.ContainerConfig{RestartPolicy: c.policy}})
		if err != nil {
			t.Fatal(err)
		}
		if a, err = s.Agents.StartAgent(ctx, u, a.ID); err != nil {
			t.Fatal(err)
		}
		rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseRestarting, RestartCount: 3, ExitCode: 3, FinishedAt: time.Now()})
		if err := s.Observe.Resync(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Agents.store.Agent(ctx, a.ID)
		st, _ := rt.Inspect(ctx, a.ContainerID)
		if c.stopped {
			if got.Status != warder.StatusFailed || st.Restarting() {
				t.Fatalf("%s: %s %q, container %s; want failed and stopped", c.policy, got.Status, got.StatusReason, st.Phase)
			}
			continue
		}
		if got.Status != warder.StatusStarting || !strings.Contains(got.StatusReason, "last of 3") || !st.Restarting() {
			t.Fatalf("%s: %s %q, container %s; want starting, the last restart left to run", c.policy, got.Status, got.StatusReason, st.Phase)
		}
		rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseExited, RestartCount: 3, ExitCode: 3, FinishedAt: time.Now()})
		if err := s.Observe.Resync(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Agents.store.Agent(ctx, a.ID)
		if got.Status != warder.StatusFailed || !strings.Contains(got.StatusReason, "crash loop") || got.ExitCode == nil || *got.ExitCode != 3 {
			t.Fatalf("%s after the last exit: %s %q code %v", c.policy, got.Status, got.StatusReason, got.ExitCode)
		}
	}
}

// countInspects counts the runtime's Inspect calls.
type countInspects struct {
	*runtimetest.Fake
	n atomic.Int64
}

func (c *countInspects) Inspect(ctx context.Context, id string) (warder.WorkloadState, error) {
	c.n.Add(1)
	return c.Fake.Inspect(ctx, id)
}

// TestEventsNoNews: an event that tells nothing the agent's record does
// not show (the start's own created and started events, an exit already
// recorded) is dropped without an inspect; every other one is looked
// into, and what it reports is recorded, whatever order the events of a
// crash and a restart are reconciled in.
func TestEventsNoNews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var ci *countInspects
	s, rt := newTestServiceOn(t, func(f *runtimetest.Fake) warder.Runtime { ci = &countInspects{Fake: f}; return ci }, 10)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")
	a, err := s.Agents.StartAgent(ctx, u, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// event is the runtime telling of a change of kind to the agent's
	// workload, reconciled as the watch does.
	event := func(kind warder.EventKind) (inspects int64, got *warder.Agent) {
		t.Helper()
		n := ci.n.Load()
		ev := warder.WorkloadEvent{ContainerID: a.ContainerID, AgentID: a.ID, Kind: kind}
		if err := s.Observe.reconcile(ctx, a.ID, reconcileOpts{actor: "docker", event: &ev}); err != nil {
			t.Fatal(err)
		}
		got, err = s.Agents.store.Agent(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ci.n.Load() - n, got
	}
	// The start's own create and start events.
	for _, kind := range []warder.EventKind{warder.EventCreated, warder.EventStarted} {
		if n, got := event(kind); n != 0 || got.Status != warder.StatusRunning {
			t.Fatalf("the start's own %s event: %d inspects, %s", kind, n, got.Status)
		}
	}
	// Any other event is looked into.
	for _, kind := range []warder.EventKind{warder.EventChanged, warder.EventHealth, warder.EventOOMKilled} {
		if n, _ := event(kind); n == 0 {
			t.Fatalf("a %s event was not looked into", kind)
		}
	}
	// A crash, and the engine's restart after it, their events
	// reconciled the wrong way round: the start finds the record running
	// and is dropped; the exit is looked into and finds the restart.
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseRunning, RestartCount: 1})
	if n, got := event(warder.EventStarted); n != 0 || got.RestartCount != 0 {
		t.Fatalf("a restart's start event, before its exit's: %d inspects, restart count %d", n, got.RestartCount)
	}
	if n, got := event(warder.EventExited); n == 0 || got.Status != warder.StatusRunning || got.RestartCount != 1 {
		t.Fatalf("the exit before a restart: %d inspects, %s, restart count %d", n, got.Status, got.RestartCount)
	}
	// A crash: the exit is looked into and recorded; the same exit again
	// is no news.
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 3, RestartCount: 1, FinishedAt: time.Now()})
	if n, got := event(warder.EventExited); n == 0 || got.Status != warder.StatusExited {
		t.Fatalf("a crash: %d inspects, %s %q", n, got.Status, got.StatusReason)
	}
	if n, _ := event(warder.EventExited); n != 0 {
		t.Fatalf("an exit already recorded: %d inspects", n)
	}
	// With the record showing it exited, a start is news, and so is the
	// exit of that run, whose exit code is then recorded.
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseRunning, RestartCount: 2})
	if n, got := event(warder.EventStarted); n == 0 || got.Status != warder.StatusRunning {
		t.Fatalf("a start after an exit on record: %d inspects, %s", n, got.Status)
	}
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 4, RestartCount: 2, FinishedAt: time.Now()})
	if n, got := event(warder.EventExited); n == 0 || got.ExitCode == nil || *got.ExitCode != 4 {
		t.Fatalf("the exit of a later run: %d inspects, exit code %v", n, got.ExitCode)
	}
	// An event about another workload than the recorded one is news.
	other := warder.WorkloadEvent{ContainerID: "other", AgentID: a.ID, Kind: warder.EventStarted}
	n := ci.n.Load()
	if err := s.Observe.reconcile(ctx, a.ID, reconcileOpts{actor: "docker", event: &other}); err != nil {
		t.Fatal(err)
	}
	if ci.n.Load() == n {
		t.Fatal("an event about another workload was not looked into")
	}
}

// TestNewsTable: the rule itself.
func TestNewsTable(t *testing.T) {
	rec := func(status warder.Status, phase warder.Phase) *warder.Agent {
		return &warder.Agent{ContainerID: "c1", Status: status, ContainerStatus: string(phase)}
	}
	for _, c := range []struct {
		a    *warder.Agent
		kind warder.EventKind
		want bool
	}{
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventStarted, false},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventCreated, false},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventExited, true},
		{rec(warder.StatusStopping, warder.PhaseRunning), warder.EventStarted, true},
		{rec(warder.StatusStarting, warder.PhaseCreated), warder.EventStarted, true},
		{rec(warder.StatusStopped, warder.PhaseExited), warder.EventExited, false},
		{rec(warder.StatusExited, warder.PhaseExited), warder.EventExited, false},
		{rec(warder.StatusFailed, warder.PhaseExited), warder.EventExited, false},
		{rec(warder.StatusStopped, warder.PhaseExited), warder.EventStarted, true},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventHealth, true},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventOOMKilled, true},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventRemoved, true},
		{rec(warder.StatusPaused, warder.PhasePaused), warder.EventPaused, false},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventPaused, true},
		{rec(warder.StatusRunning, warder.PhaseRunning), warder.EventResumed, false},
		{rec(warder.StatusPaused, warder.PhasePaused), warder.EventResumed, true},
	} {
		ev := warder.WorkloadEvent{ContainerID: "c1", Kind: c.kind}
		if got := news(c.a, ev); got != c.want {
			t.Errorf("news(%s/%s, %s) = %v, want %v", c.a.Status, c.a.ContainerStatus, c.kind, got, c.want)
		}
	}
}
