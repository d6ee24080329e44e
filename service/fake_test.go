package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warder/warder"
)

// fakeRuntime is an in-memory warder.Runtime for testing the service's own
// rules; the Docker runtime itself is tested against the real engine.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer // by id
	next       int
	down       bool // every call fails as if the engine were unreachable
	setups     int
	failStarts int // the next failStarts starts fail as the engine would on a taken port
}

type fakeContainer struct {
	spec    warder.ContainerSpec
	state   warder.ContainerState
	running bool
}

var _ warder.Runtime = (*fakeRuntime)(nil)

func newFakeRuntime() *fakeRuntime { return &fakeRuntime{containers: map[string]*fakeContainer{}} }

func (f *fakeRuntime) check() error {
	if f.down {
		return warder.Errorf(warder.ErrUnavailable, "Docker is unavailable: fake")
	}
	return nil
}

func (f *fakeRuntime) find(idOrName string) (string, *fakeContainer) {
	if c, ok := f.containers[idOrName]; ok {
		return idOrName, c
	}
	for id, c := range f.containers {
		if c.spec.Name == idOrName {
			return id, c
		}
	}
	return "", nil
}

func (f *fakeRuntime) Ping(context.Context) error { f.mu.Lock(); defer f.mu.Unlock(); return f.check() }

func (f *fakeRuntime) Setup(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setups++
	return f.check()
}

func (f *fakeRuntime) Create(_ context.Context, spec warder.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return "", err
	}
	if _, c := f.find(spec.Name); c != nil {
		return "", warder.Errorf(warder.ErrConflict, "name in use")
	}
	f.next++
	id := fmt.Sprintf("c%d", f.next)
	f.containers[id] = &fakeContainer{spec: spec}
	return id, nil
}

func (f *fakeRuntime) setRunning(id string, running bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	_, c := f.find(id)
	if c == nil {
		return warder.Errorf(warder.ErrNotFound, "no such container")
	}
	c.running, c.state = running, warder.ContainerState{}
	return nil
}

func (f *fakeRuntime) Start(_ context.Context, id string) error {
	f.mu.Lock()
	if f.failStarts > 0 {
		f.failStarts--
		f.mu.Unlock()
		return errors.New("driver failed programming external connectivity: address already in use")
	}
	f.mu.Unlock()
	return f.setRunning(id, true)
}

func (f *fakeRuntime) Stop(_ context.Context, id string, _ time.Duration) error {
	return f.setRunning(id, false)
}

func (f *fakeRuntime) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if cid, c := f.find(id); c != nil {
		delete(f.containers, cid)
	}
	return nil
}

func (f *fakeRuntime) Inspect(_ context.Context, id string) (warder.ContainerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return warder.ContainerState{}, err
	}
	cid, c := f.find(id)
	if c == nil {
		return warder.ContainerState{}, warder.Errorf(warder.ErrNotFound, "no such container")
	}
	return c.stateOf(cid), nil
}

// stateOf is the container's state: what a test set in c.state, with the
// identity and running flag filled in.
func (c *fakeContainer) stateOf(id string) warder.ContainerState {
	st := c.state
	st.ID, st.Name, st.AgentID, st.Running = id, c.spec.Name, c.spec.Labels[warder.LabelAgentID], c.running
	if st.Status == "" {
		st.Status = "exited"
		if c.running {
			st.Status = "running"
		}
	}
	return st
}

func (f *fakeRuntime) List(context.Context) ([]warder.ContainerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return nil, err
	}
	var out []warder.ContainerState
	for id, c := range f.containers {
		out = append(out, c.stateOf(id))
	}
	return out, nil
}

func (f *fakeRuntime) Events(ctx context.Context, ready func(), _ func(warder.ContainerEvent)) error {
	if err := f.Ping(ctx); err != nil {
		return err
	}
	ready()
	<-ctx.Done()
	return ctx.Err()
}

// set changes a container's reported state, as Docker would on its own.
func (f *fakeRuntime) set(id string, running bool, st warder.ContainerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.running, c.state = running, st
}

func (f *fakeRuntime) Logs(context.Context, string, warder.LogOptions) (string, error) {
	return "", nil
}

func (f *fakeRuntime) Stats(context.Context, string) (warder.Stats, error) {
	return warder.Stats{}, nil
}

func (f *fakeRuntime) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.containers)
}
