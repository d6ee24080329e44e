package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/warder/warder"
)

// Runtime returns rt with every Docker call counted and timed, and every
// stream counted while open: the one place Docker is instrumented. Methods
// added to warder.Runtime later pass through uncounted until listed here.
func (m *Metrics) Runtime(rt warder.Runtime) warder.Runtime {
	return &runtime{Runtime: rt, m: m}
}

type runtime struct {
	warder.Runtime
	m *Metrics
}

// result names an outcome for the result label.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, warder.ErrNotFound):
		return "not_found"
	case errors.Is(err, warder.ErrConflict):
		return "conflict"
	case errors.Is(err, warder.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// call records one request/response call that began at start.
func (r *runtime) call(op string, start time.Time, err error) {
	r.m.dockerDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	r.m.dockerCalls.WithLabelValues(op, result(err)).Inc()
}

// stream counts a stream as open until the returned function gets its end.
func (r *runtime) stream(op string) func(error) {
	g := r.m.dockerStreams.WithLabelValues(op)
	g.Inc()
	return func(err error) {
		g.Dec()
		r.m.dockerCalls.WithLabelValues(op, result(err)).Inc()
	}
}

func (r *runtime) Ping(ctx context.Context) error {
	start := time.Now()
	err := r.Runtime.Ping(ctx)
	r.call("ping", start, err)
	return err
}

func (r *runtime) Setup(ctx context.Context) error {
	start := time.Now()
	err := r.Runtime.Setup(ctx)
	r.call("setup", start, err)
	return err
}

func (r *runtime) Create(ctx context.Context, spec warder.WorkloadSpec) (string, error) {
	start := time.Now()
	id, err := r.Runtime.Create(ctx, spec)
	r.call("create", start, err)
	return id, err
}

func (r *runtime) Start(ctx context.Context, id string) (warder.WorkloadState, error) {
	start := time.Now()
	st, err := r.Runtime.Start(ctx, id)
	r.call("start", start, err)
	return st, err
}

func (r *runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	start := time.Now()
	err := r.Runtime.Stop(ctx, id, timeout)
	r.call("stop", start, err)
	return err
}

func (r *runtime) Remove(ctx context.Context, id string) error {
	start := time.Now()
	err := r.Runtime.Remove(ctx, id)
	r.call("remove", start, err)
	return err
}

func (r *runtime) Inspect(ctx context.Context, id string) (warder.WorkloadState, error) {
	start := time.Now()
	st, err := r.Runtime.Inspect(ctx, id)
	r.call("inspect", start, err)
	return st, err
}

func (r *runtime) Stats(ctx context.Context, id string) (warder.Stats, error) {
	start := time.Now()
	st, err := r.Runtime.Stats(ctx, id)
	r.call("stats", start, err)
	return st, err
}

func (r *runtime) List(ctx context.Context) ([]warder.WorkloadState, error) {
	start := time.Now()
	list, err := r.Runtime.List(ctx)
	r.call("list", start, err)
	return list, err
}

func (r *runtime) Running(ctx context.Context) ([]string, error) {
	start := time.Now()
	ids, err := r.Runtime.Running(ctx)
	r.call("list_running", start, err)
	return ids, err
}

func (r *runtime) Events(ctx context.Context, ready func(), fn func(warder.WorkloadEvent)) error {
	done := r.stream("events")
	err := r.Runtime.Events(ctx, ready, fn)
	done(err)
	return err
}

func (r *runtime) StreamLogs(ctx context.Context, id string, opts warder.LogOptions, fn func(warder.LogLine) error) error {
	done := r.stream("logs_stream")
	err := r.Runtime.StreamLogs(ctx, id, opts, fn)
	done(err)
	return err
}
