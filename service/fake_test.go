package service

import (
	"context"
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
}

type fakeContainer struct {
	spec    warder.ContainerSpec
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
	c.running = running
	return nil
}

func (f *fakeRuntime) Start(_ context.Context, id string) error { return f.setRunning(id, true) }

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
	st := warder.ContainerState{ID: cid, Name: c.spec.Name, Running: c.running, Status: "exited"}
	if c.running {
		st.Status = "running"
	}
	return st, nil
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
