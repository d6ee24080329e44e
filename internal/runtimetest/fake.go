package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/hostports"
)

// Fake is an in-memory warder.Runtime for testing Warder's own rules
// without a backend. It passes the conformance suite: its workloads act as
// the package comment says (a start and an exit are logged, the exit hook
// is honoured), it reports events, and with a PortStore it publishes host
// ports from its range as the Docker runtime does.
type Fake struct {
	ports *hostports.Allocator // nil: no host ports

	mu      sync.Mutex
	byID    map[string]*fakeWorkload
	next    int
	down    bool
	setups  int
	failing int          // the next this many starts fail, as on a taken port
	busyMu  sync.Mutex   // not mu: the allocator asks free while Create holds mu
	busy    map[int]bool // ports something outside Warder holds
	subs    map[chan warder.WorkloadEvent]struct{}
	volumes map[string]*fakeVolume // workspaces, by name
	noWork  bool                   // Info says no workspaces and no exec
	noPause bool                   // Parts has no Pause (as on Kubernetes)
}

type fakeWorkload struct {
	spec  warder.WorkloadSpec
	state warder.WorkloadState
	logs  []string
	exit  *time.Timer
}

var _ warder.Runtime = (*Fake)(nil)

// NewFake returns a Fake. With ports it has host ports from start to end.
func NewFake(ports warder.PortStore, start, end int) *Fake {
	f := &Fake{byID: map[string]*fakeWorkload{}, busy: map[int]bool{}, subs: map[chan warder.WorkloadEvent]struct{}{}}
	if ports != nil {
		f.ports = hostports.New(ports, start, end, f.free)
	}
	return f
}

// free is the allocator's check that nothing outside Warder holds port.
func (f *Fake) free(port int) bool {
	f.busyMu.Lock()
	defer f.busyMu.Unlock()
	return !f.busy[port]
}

// SetDown makes every call fail as if the backend were unreachable, or
// not any more.
func (f *Fake) SetDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// FailStarts makes the next n starts fail, as the engine does when a host
// port was taken since it was claimed.
func (f *Fake) FailStarts(n int) { f.mu.Lock(); f.failing = n; f.mu.Unlock() }

// Busy marks host ports as taken by something outside Warder: the fake
// never hands them out.
func (f *Fake) Busy(ports ...int) {
	f.busyMu.Lock()
	defer f.busyMu.Unlock()
	for _, p := range ports {
		f.busy[p] = true
	}
}

// Setups counts calls of Setup.
func (f *Fake) Setups() int { f.mu.Lock(); defer f.mu.Unlock(); return f.setups }

// Count is how many workloads exist.
func (f *Fake) Count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.byID) }

// SpecOf is the spec workload id was created from.
func (f *Fake) SpecOf(id string) warder.WorkloadSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.byID[id]; w != nil {
		return w.spec
	}
	return warder.WorkloadSpec{}
}

// Set changes what the workload reports, as the backend would on its own
// (a crash, an OOM kill, a health change); identity, port and endpoint
// are kept.
func (f *Fake) Set(id string, st warder.WorkloadState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.byID[id]
	st.ID, st.Name, st.AgentID, st.HostPort = w.state.ID, w.state.Name, w.state.AgentID, w.state.HostPort
	if st.Phase == "" {
		st.Phase = warder.PhaseExited
	}
	w.state = st
	f.setEndpoint(w)
	f.emit(w, warder.EventChanged)
}

func (f *Fake) check() error {
	if f.down {
		return warder.Errorf(warder.ErrUnavailable, "the fake runtime is down")
	}
	return nil
}

// get runs under mu.
func (f *Fake) get(id string) (*fakeWorkload, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	w := f.byID[id]
	if w == nil {
		return nil, warder.Errorf(warder.ErrNotFound, "no such workload %s", id)
	}
	return w, nil
}

// emit runs under mu.
func (f *Fake) emit(w *fakeWorkload, kind warder.EventKind) {
	ev := warder.WorkloadEvent{ContainerID: w.state.ID, AgentID: w.state.AgentID, Kind: kind, Time: time.Now()}
	for ch := range f.subs {
		select {
		case ch <- ev:
		default: // a subscriber that falls behind loses events, as on Docker
		}
	}
}

// setEndpoint runs under mu.
func (f *Fake) setEndpoint(w *fakeWorkload) {
	w.state.Endpoint, w.state.ProbeEndpoint = "", ""
	if w.state.Running() || w.state.Phase == warder.PhasePaused {
		w.state.Endpoint = "fake-" + w.state.ID + ":" + strconv.Itoa(w.spec.Port)
		if w.state.HostPort != 0 {
			// Published: probed at its own address, as on Docker's host.
			w.state.Endpoint, w.state.ProbeEndpoint = "127.0.0.1:"+strconv.Itoa(w.state.HostPort), w.state.Endpoint
		}
	}
}

// WithoutWorkspaces makes the fake a runtime without workspaces, files
// and exec (Info says so), as a backend that has not got them yet.
func (f *Fake) WithoutWorkspaces() *Fake { f.noWork = true; return f }

// WithoutPause makes the fake a runtime that cannot pause (Kubernetes).
func (f *Fake) WithoutPause() *Fake { f.noPause = true; return f }

// Info says the fake publishes host ports when it has a PortStore, and
// has no restart policies.
func (f *Fake) Info() warder.RuntimeInfo {
	info := warder.RuntimeInfo{Name: "fake"}
	if f.ports != nil {
		info.HostPorts, info.HostPortRange = true, f.ports.Range()
	}
	return info
}

// Ping fails while the fake is down.
func (f *Fake) Ping(context.Context) error { f.mu.Lock(); defer f.mu.Unlock(); return f.check() }

// Setup counts its calls.
func (f *Fake) Setup(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setups++
	return f.check()
}

// Create makes a workload, replacing a leftover of the same name, and
// claims or releases the agent's host port.
func (f *Fake) Create(ctx context.Context, spec warder.WorkloadSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return "", err
	}
	for id, w := range f.byID {
		if w.spec.Name == spec.Name {
			f.removeLocked(ctx, id, w)
		}
	}
	port := 0
	if f.ports != nil && spec.AgentID != "" {
		var err error
		if spec.Publish && !spec.Internal {
			if port, err = f.ports.Claim(ctx, spec.AgentID); err != nil {
				return "", err
			}
		} else if err = f.ports.Release(ctx, spec.AgentID, 0); err != nil {
			return "", err
		}
	}
	if spec.Workspace != nil {
		f.volume(spec.Workspace)
	}
	f.next++
	id := fmt.Sprintf("fake%06d", f.next)
	w := &fakeWorkload{spec: spec, state: warder.WorkloadState{
		ID: id, Name: spec.Name, AgentID: spec.AgentID, Phase: warder.PhaseCreated, HostPort: port,
	}}
	f.byID[id] = w
	f.emit(w, warder.EventCreated)
	return id, nil
}

// Start runs the workload: it logs its start and, given the exit hook,
// exits later.
func (f *Fake) Start(_ context.Context, id string) (warder.WorkloadState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.get(id)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	if f.failing > 0 {
		f.failing--
		if f.ports != nil && w.state.HostPort != 0 {
			f.ports.MarkBad(w.state.HostPort)
		}
		return warder.WorkloadState{}, errors.New("driver failed programming external connectivity: address already in use")
	}
	if w.state.Running() {
		return w.state, nil
	}
	w.state = warder.WorkloadState{ID: w.state.ID, Name: w.state.Name, AgentID: w.state.AgentID,
		HostPort: w.state.HostPort, Phase: warder.PhaseRunning, StartedAt: time.Now(), RestartCount: w.state.RestartCount}
	f.setEndpoint(w)
	w.logs = append(w.logs, "warder-agent starting")
	f.emit(w, warder.EventStarted)
	if code, ok := w.spec.Env["WARDER_AGENT_EXIT_CODE"]; ok {
		after, err := time.ParseDuration(w.spec.Env["WARDER_AGENT_EXIT_AFTER"])
		if err != nil {
			after = time.Second
		}
		n, _ := strconv.Atoi(code)
		w.exit = time.AfterFunc(after, func() { f.exited(w, n) })
	}
	return w.state, nil
}

// exited ends a running workload with code, as its process would.
func (f *Fake) exited(w *fakeWorkload, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !w.state.Running() {
		return
	}
	w.logs = append(w.logs, fmt.Sprintf("warder-agent exiting with code %d (WARDER_AGENT_EXIT_CODE)", code))
	w.state.Phase, w.state.ExitCode, w.state.FinishedAt = warder.PhaseExited, code, time.Now()
	f.setEndpoint(w)
	f.emit(w, warder.EventExited)
}

// Pause freezes a running workload (as the engine's pause does).
func (f *Fake) Pause(_ context.Context, id string) error {
	return f.freeze(id, warder.PhaseRunning, warder.PhasePaused, warder.EventPaused)
}

// Resume thaws a paused workload.
func (f *Fake) Resume(_ context.Context, id string) error {
	return f.freeze(id, warder.PhasePaused, warder.PhaseRunning, warder.EventResumed)
}

// freeze moves a workload from one phase to another: to it already is
// success, from any third is ErrConflict.
func (f *Fake) freeze(id string, from, to warder.Phase, ev warder.EventKind) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.get(id)
	if err != nil {
		return err
	}
	switch w.state.Phase {
	case to:
		return nil
	case from:
		w.state.Phase = to
		f.emit(w, ev)
		return nil
	}
	return warder.Errorf(warder.ErrConflict, "workload %s is %s", id, w.state.Phase)
}

// Stop ends the workload; stopping a stopped one succeeds.
func (f *Fake) Stop(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.get(id)
	if err != nil {
		return err
	}
	if w.exit != nil {
		w.exit.Stop()
	}
	if w.state.Running() || w.state.Restarting() || w.state.Phase == warder.PhasePaused {
		w.state.Phase, w.state.ExitCode, w.state.FinishedAt = warder.PhaseExited, 0, time.Now()
		f.setEndpoint(w)
		f.emit(w, warder.EventExited)
	}
	return nil
}

// Remove deletes the workload and gives up its host port; gone is success.
func (f *Fake) Remove(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	for wid, w := range f.byID {
		if wid == id || w.spec.Name == id {
			return f.removeLocked(ctx, wid, w)
		}
	}
	return nil
}

// removeLocked runs under mu.
func (f *Fake) removeLocked(ctx context.Context, id string, w *fakeWorkload) error {
	if w.exit != nil {
		w.exit.Stop()
	}
	if w.state.Running() {
		f.emit(w, warder.EventExited)
	}
	delete(f.byID, id)
	f.emit(w, warder.EventRemoved)
	if f.ports != nil && w.state.HostPort != 0 {
		return f.ports.Release(ctx, w.state.AgentID, w.state.HostPort)
	}
	return nil
}

// Inspect reports the workload's state.
func (f *Fake) Inspect(_ context.Context, id string) (warder.WorkloadState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.get(id)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	return w.state, nil
}

// List reports every workload.
func (f *Fake) List(context.Context) ([]warder.WorkloadState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return nil, err
	}
	out := make([]warder.WorkloadState, 0, len(f.byID))
	for _, w := range f.byID {
		out = append(out, w.state)
	}
	return out, nil
}

// Running names the workloads whose process runs.
func (f *Fake) Running(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return nil, err
	}
	var out []string
	for id, w := range f.byID {
		if w.state.Running() {
			out = append(out, id)
		}
	}
	return out, nil
}

// Events delivers every event from now until ctx ends.
func (f *Fake) Events(ctx context.Context, ready func(), fn func(warder.WorkloadEvent)) error {
	ch := make(chan warder.WorkloadEvent, 1024)
	f.mu.Lock()
	if err := f.check(); err != nil {
		f.mu.Unlock()
		return err
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	defer func() { f.mu.Lock(); delete(f.subs, ch); f.mu.Unlock() }()
	if ready != nil {
		ready()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-ch:
			fn(ev)
		}
	}
}

// Parts: workspaces, files and exec (in memory; unless
// WithoutWorkspaces); no stats stream, no warm pool.
func (f *Fake) Parts() warder.RuntimeParts {
	if f.noWork {
		return warder.RuntimeParts{}
	}
	p := warder.RuntimeParts{Workspaces: f, Files: f, Exec: f, Pause: f}
	if f.noPause {
		p.Pause = nil
	}
	return p
}

// output returns the workload's output so far.
func (f *Fake) output(id string, opts warder.LogOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.get(id)
	if err != nil {
		return "", err
	}
	lines := w.logs
	if opts.Lines > 0 && len(lines) > opts.Lines {
		lines = lines[len(lines)-opts.Lines:]
	}
	if len(lines) == 0 {
		return "", nil
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// StreamLogs sends the output so far; with Follow it then waits until the
// workload stops.
func (f *Fake) StreamLogs(ctx context.Context, id string, opts warder.LogOptions, fn func(warder.LogLine) error) error {
	out, err := f.output(id, opts)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		if err := fn(warder.LogLine{Stream: warder.StreamStdout, Text: l}); err != nil {
			return err
		}
	}
	for opts.Follow {
		st, err := f.Inspect(ctx, id)
		if err != nil || !st.Running() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Stats reports the workload's limits and no use; a workload that is not
// running is ErrConflict.
func (f *Fake) Stats(_ context.Context, id string) (warder.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.get(id)
	if err != nil {
		return warder.Stats{}, err
	}
	if !w.state.Running() {
		return warder.Stats{}, warder.Errorf(warder.ErrConflict, "agent is not running")
	}
	return warder.Stats{MemoryLimitBytes: uint64(w.spec.MemoryBytes), ReadAt: time.Now()}, nil
}
