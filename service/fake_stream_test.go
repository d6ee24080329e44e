package service

import (
	"context"

	"github.com/warder/warder"
)

// StreamLogs of the fake runtime has no output: it ends at once.
func (f *fakeRuntime) StreamLogs(ctx context.Context, id string, _ warder.LogOptions, _ func(warder.LogLine) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if _, c := f.find(id); c == nil {
		return warder.Errorf(warder.ErrNotFound, "no such container")
	}
	return nil
}

// StatsStream of the fake runtime sends nothing until ctx ends, or says
// the container is not running.
func (f *fakeRuntime) StatsStream(ctx context.Context, id string, _ func(warder.Stats)) error {
	f.mu.Lock()
	err := f.check()
	_, c := f.find(id)
	f.mu.Unlock()
	switch {
	case err != nil:
		return err
	case c == nil:
		return warder.Errorf(warder.ErrNotFound, "no such container")
	case !c.running:
		return warder.Errorf(warder.ErrConflict, "not running")
	}
	<-ctx.Done()
	return ctx.Err()
}
