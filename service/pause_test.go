package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
)

// startedAgent makes and starts an agent of u's.
func startedAgent(t *testing.T, s *Service, u *warder.User, name string, cc warder.ContainerConfig) *warder.Agent {
	t.Helper()
	ctx := context.Background()
	a, err := s.Agents.CreateAgent(ctx, u, warder.AgentCreate{Name: name, ContainerConfig: cc})
	if err != nil {
		t.Fatal(err)
	}
	if a, err = s.Agents.StartAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	if a.Status != warder.StatusRunning {
		t.Fatalf("started agent is %s", a.Status)
	}
	return a
}

// TestPauseResume: a paused agent keeps its workload and port; pausing
// twice, or resuming a running agent, succeeds; what is not running
// cannot be paused; read-only keys can do neither.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "alice")
	a := startedAgent(t, s, u, "a", warder.ContainerConfig{})
	p, err := s.Agents.PauseAgent(ctx, u, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != warder.StatusPaused || p.ContainerStatus != "paused" || p.HostPort != a.HostPort || p.HostPort == 0 || p.ContainerID != a.ContainerID ||
		p.StatusReason != "paused by alice" {
		t.Fatalf("paused: %s %q container %s port %d (was %d)", p.Status, p.StatusReason, p.ContainerStatus, p.HostPort, a.HostPort)
	}
	if st, _ := rt.Inspect(ctx, a.ContainerID); st.Phase != warder.PhasePaused {
		t.Fatalf("the workload is %s", st.Phase)
	}
	if _, err := s.Agents.PauseAgent(ctx, u, a.ID); err != nil {
		t.Fatalf("pausing a paused agent: %v", err)
	}
	ro := *u
	ro.ReadOnly = true
	if _, err := s.Agents.ResumeAgent(ctx, &ro, a.ID); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("resume with a read-only key: %v", err)
	}
	r, err := s.Agents.ResumeAgent(ctx, u, a.ID)
	if err != nil || r.Status != warder.StatusRunning || r.ContainerStatus != "running" || r.HostPort != a.HostPort {
		t.Fatalf("resumed: %v %+v", err, r)
	}
	if _, err := s.Agents.ResumeAgent(ctx, u, a.ID); err != nil {
		t.Fatalf("resuming a running agent: %v", err)
	}
	if _, err := s.Agents.PauseAgent(ctx, &ro, a.ID); !errors.Is(err, warder.ErrForbidden) {
		t.Fatalf("pause with a read-only key: %v", err)
	}
	other := mustUser(t, s, "bob")
	if _, err := s.Agents.PauseAgent(ctx, other, a.ID); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("pause of another user's agent: %v", err)
	}
	if _, err := s.Agents.StopAgent(ctx, u, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Agents.PauseAgent(ctx, u, a.ID); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("pause of a stopped agent: %v", err)
	}
	if _, err := s.Agents.ResumeAgent(ctx, u, a.ID); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("resume of a stopped agent: %v", err)
	}
	// The history says who did what.
	evs, err := s.Observe.AgentEvents(ctx, u, a.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var path []warder.Status
	for _, e := range evs {
		path = append(path, e.To)
	}
	want := []warder.Status{warder.StatusStarting, warder.StatusRunning, warder.StatusPaused, warder.StatusRunning, warder.StatusStopping, warder.StatusStopped}
	if len(path) != len(want) {
		t.Fatalf("history %v, want %v", path, want)
	}
	for i := range want {
		if path[i] != want[i] {
			t.Fatalf("history %v, want %v", path, want)
		}
	}
}

// TestPauseWithoutRuntimeSupport: a runtime without the Pause part
// (Kubernetes) answers 501 naming what to do instead.
func TestPauseWithoutRuntimeSupport(t *testing.T) {
	t.Parallel()
	s, _ := newTestServiceOn(t, func(f *runtimetest.Fake) warder.Runtime { return f.WithoutPause() }, 10)
	u := mustUser(t, s, "alice")
	a := startedAgent(t, s, u, "a", warder.ContainerConfig{})
	_, err := s.Agents.PauseAgent(context.Background(), u, a.ID)
	if !errors.Is(err, warder.ErrNotSupported) || warder.ErrorMessage(err) == "" {
		t.Fatalf("pause without runtime support: %v", err)
	}
	if n, err := s.Observe.PauseIdle(context.Background(), time.Now().Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("PauseIdle without runtime support = %d, %v", n, err)
	}
}

// TestWakeOnRequest: exec, files, stats and a followed log to a paused
// agent resume it first, whoever sends them (a read-only key too, for
// reads), and count as use.
func TestWakeOnRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	s.Agents.cfg.Spec.Workspaces = true
	u := mustUser(t, s, "alice")
	ro := *u
	ro.ReadOnly = true
	a := startedAgent(t, s, u, "a", warder.ContainerConfig{})
	for name, call := range map[string]func() error{
		"exec": func() error {
			_, err := s.Files.Exec(ctx, u, a.ID, warder.ExecRequest{Cmd: []string{"echo", "hi"}}, func() {}, func(string, []byte) error { return nil })
			return err
		},
		"files": func() error {
			_, err := s.Files.ListDir(ctx, &ro, a.ID, "")
			return err
		},
		"stats": func() error {
			_, err := s.Observe.AgentStats(ctx, &ro, a.ID)
			return err
		},
		"logs": func() error {
			fctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			err := s.Observe.StreamAgentLogs(fctx, &ro, a.ID, warder.LogOptions{Follow: true}, func() {}, func(warder.LogLine) error { return nil })
			if errors.Is(err, context.DeadlineExceeded) {
				err = nil
			}
			return err
		},
	} {
		if _, err := s.Agents.PauseAgent(ctx, u, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := call(); err != nil {
			t.Fatalf("%s to a paused agent: %v", name, err)
		}
		got, err := s.Agents.Agent(ctx, u, a.ID)
		if err != nil || got.Status != warder.StatusRunning {
			t.Fatalf("after %s to a paused agent it is %s (%v)", name, got.Status, err)
		}
	}
}

// TestIdlePauseThenStop: an agent unused for its auto_pause_minutes is
// paused, and after its auto_stop_minutes without use, stopped; the
// operator's default applies when the agent says 0, and -1 opts out.
func TestIdlePauseThenStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newTestService(t, 10)
	s.Observe.cfg.AutoPauseMinutes = 5
	u := mustUser(t, s, "alice")
	own := startedAgent(t, s, u, "own", warder.ContainerConfig{AutoPauseMinutes: 1, AutoStopMinutes: 3})
	byDefault := startedAgent(t, s, u, "default", warder.ContainerConfig{})
	never := startedAgent(t, s, u, "never", warder.ContainerConfig{AutoPauseMinutes: -1})
	status := func(a *warder.Agent) warder.Status {
		t.Helper()
		got, err := s.Agents.Agent(ctx, u, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	now := time.Now()
	if n, err := s.Observe.PauseIdle(ctx, now.Add(30*time.Second)); n != 0 || err != nil {
		t.Fatalf("PauseIdle too early = %d, %v", n, err)
	}
	if n, err := s.Observe.PauseIdle(ctx, now.Add(90*time.Second)); n != 1 || err != nil || status(own) != warder.StatusPaused {
		t.Fatalf("PauseIdle after 90 s = %d, %v; own agent %s", n, err, status(own))
	}
	if n, err := s.Observe.PauseIdle(ctx, now.Add(6*time.Minute)); n != 1 || err != nil || status(byDefault) != warder.StatusPaused || status(never) != warder.StatusRunning {
		t.Fatalf("PauseIdle after 6 min = %d, %v; default %s, never %s", n, err, status(byDefault), status(never))
	}
	// The paused agent's stop clock runs from its pause (a change of
	// status), at about now.
	if n, err := s.Observe.StopIdle(ctx, time.Now().Add(2*time.Minute)); n != 0 || err != nil {
		t.Fatalf("StopIdle too early = %d, %v", n, err)
	}
	if n, err := s.Observe.StopIdle(ctx, time.Now().Add(4*time.Minute)); n != 1 || err != nil || status(own) != warder.StatusStopped {
		t.Fatalf("StopIdle = %d, %v; own agent %s", n, err, status(own))
	}
}

// TestResyncPausedOutside: a workload paused outside Warder is recorded
// paused, keeping its port; resumed outside, running again.
func TestResyncPausedOutside(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt := newTestService(t, 10)
	u := mustUser(t, s, "alice")
	a := startedAgent(t, s, u, "a", warder.ContainerConfig{})
	if err := rt.Pause(ctx, a.ContainerID); err != nil {
		t.Fatal(err)
	}
	if err := s.Observe.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Agents.Agent(ctx, u, a.ID)
	if got.Status != warder.StatusPaused || got.StatusReason != "paused outside Warder" || got.HostPort != a.HostPort {
		t.Fatalf("after a pause outside Warder: %s %q port %d", got.Status, got.StatusReason, got.HostPort)
	}
	if err := rt.Resume(ctx, a.ContainerID); err != nil {
		t.Fatal(err)
	}
	if err := s.Observe.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Agents.Agent(ctx, u, a.ID); got.Status != warder.StatusRunning {
		t.Fatalf("after a resume outside Warder: %s", got.Status)
	}
}
