package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/wire"
)

// parseLogQuery reads the logs parameters other than lines and
// timestamps: since and follow.
func parseLogQuery(q url.Values, opts *warder.LogOptions) error {
	if v := q.Get("since"); v != "" {
		t, err := parseTime("since", v)
		if err != nil {
			return err
		}
		opts.Since = t
	}
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return warder.Errorf(warder.ErrInvalid, "follow must be true or false, not %q", v)
		}
		opts.Follow = b
	}
	return nil
}

// parseTime reads a moment given as RFC 3339 (2026-11-27T05:00:00Z), as
// Unix seconds, or as a duration before now (10m), between 1970 and the
// year 9999: Docker takes no time before 1970, JSON none after 9999.
func parseTime(name, v string) (time.Time, error) {
	t, ok := readTime(v)
	if !ok {
		return time.Time{}, warder.Errorf(warder.ErrInvalid,
			"%s must be a time such as 2026-11-27T05:00:00Z, Unix seconds, or a duration before now such as 10m, not %q", name, v)
	}
	if t.Before(time.Unix(0, 0)) || t.Year() > 9999 {
		return time.Time{}, warder.Errorf(warder.ErrInvalid,
			"%s %q is %s: it must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z", name, v, t.Format(time.RFC3339))
	}
	return t, nil
}

func readTime(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0).UTC(), true
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d).UTC(), true
	}
	return time.Time{}, false
}

// streamContext is a streaming response's context: it holds one of the
// caller's stream slots (429 when none is free) and ends when the client
// leaves, the server shuts down or the caller's credential ends (authed
// watches it). cancel gives the slot back.
func (s *Server) streamContext(r *http.Request, caller *warder.User) (context.Context, context.CancelFunc, error) {
	release, err := s.streams.hold(caller.ID)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.closing, cancel)
	return ctx, func() { stop(); cancel(); release() }, nil
}

// CloseStreams ends every open stream (logs, stats, events) with an "end"
// event, and makes new ones end at once. Call it when shutting down: an
// http.Server's Shutdown waits for responses to finish, and streams
// would not (http.Server.RegisterOnShutdown takes it).
func (s *Server) CloseStreams() { s.closeStreams() }

// live is one streaming response in progress.
type live struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	kind   string // logs, stats or events, for metrics
	sse    bool
	cancel context.CancelFunc

	out       *stream
	stopAlive func()
	closed    func()
}

// open starts the response; the service calls it once the caller may
// have the stream, so earlier errors are answered as usual.
func (l *live) open() {
	l.closed = l.s.obs.StreamOpened(l.kind)
	if !l.sse {
		l.out = openText(l.w)
		return
	}
	l.out = openSSE(l.w)
	l.stopAlive = l.out.keepAlive(keepAliveEvery, l.cancel)
}

// finish ends the response after the stream ended with err: an "end"
// event saying why, or an "error" event for a failure. A client that
// left is told nothing. Before open, err is the request's error.
func (l *live) finish(err error, normalEnd string) error {
	if l.out == nil {
		return err
	}
	if l.stopAlive != nil {
		l.stopAlive()
	}
	defer l.closed()
	defer l.out.close()
	reason := normalEnd
	switch {
	case credentialEnded(l.r):
		reason = warder.ErrorMessage(errCredentialEnded)
	case l.r.Context().Err() != nil, l.out.err != nil:
		return nil // the client is gone
	case l.s.closing.Err() != nil:
		reason = "the server is shutting down"
	case err == nil:
	case errors.Is(err, warder.ErrConflict), errors.Is(err, warder.ErrNotFound):
		reason = warder.ErrorMessage(err)
	case errors.Is(err, context.Canceled):
		return nil // a keep-alive found the client gone
	default:
		msg := warder.ErrorMessage(err)
		if msg == "" {
			id := l.r.Header.Get("X-Request-ID")
			l.s.log.ErrorContext(l.r.Context(), "stream failed", "kind", l.kind, "path", echoed(l.r.URL.Path), "err", err)
			msg = "internal error (request id " + id + ")"
		}
		if l.sse {
			l.out.event("error", warder.ErrorResponse{Detail: msg})
		} else {
			l.out.line("error: " + msg)
		}
		return nil
	}
	if l.sse {
		l.out.event("end", warder.StreamEnd{Reason: reason})
	}
	return nil
}

// streamLogs answers a logs request as Server-Sent Events (one event per
// line, named after its stream) or, for follow without SSE, as plain text
// (one line per line, its stream first).
func (s *Server) streamLogs(w http.ResponseWriter, r *http.Request, caller *warder.User, opts warder.LogOptions) error {
	ctx, cancel, err := s.streamContext(r, caller)
	if err != nil {
		return err
	}
	defer cancel()
	l := &live{s: s, w: w, r: r, kind: "logs", sse: acceptsEventStream(r), cancel: cancel}
	err = s.observe.StreamAgentLogs(ctx, caller, r.PathValue("id"), opts, l.open, func(line warder.LogLine) error {
		if l.sse {
			return l.out.event(line.Stream, line)
		}
		return l.out.line(plainLine(line))
	})
	end := "end of logs"
	if opts.Follow {
		end = "the agent container stopped"
	}
	return l.finish(err, end)
}

// plainLine is a log line as plain text: "stdout [time ]text".
func plainLine(l warder.LogLine) string {
	if l.Time.IsZero() {
		return l.Stream + " " + l.Text
	}
	return l.Stream + " " + l.Time.Format(time.RFC3339Nano) + " " + l.Text
}

// liveStats answers ?history=5m with the samples kept, and ?stream=true
// (or Accept: text/event-stream) with a "stats" event per sample.
func (s *Server) liveStats(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	q := r.URL.Query()
	id := r.PathValue("id")
	stream := acceptsEventStream(r)
	if v := q.Get("stream"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return warder.Errorf(warder.ErrInvalid, "stream must be true or false, not %q", v)
		}
		stream = b
	}
	history := q.Get("history")
	switch {
	case stream && history != "":
		return warder.Errorf(warder.ErrInvalid, "history and stream cannot be asked for together")
	case stream:
		ctx, cancel, err := s.streamContext(r, caller)
		if err != nil {
			return err
		}
		defer cancel()
		l := &live{s: s, w: w, r: r, kind: "stats", sse: true, cancel: cancel}
		err = s.observe.WatchAgentStats(ctx, caller, id, l.open, func(st warder.Stats) error {
			return l.out.event("stats", statsView(st))
		})
		return l.finish(err, "the agent container stopped")
	case history == "":
		st, err := s.observe.AgentStats(r.Context(), caller, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, warder.StatsResponse{Stats: statsView(st)})
	}
	d, err := time.ParseDuration(history)
	if err != nil {
		return warder.Errorf(warder.ErrInvalid, "history must be a duration such as 5m, not %q", history)
	}
	list, err := s.observe.AgentStatsHistory(r.Context(), caller, id, d)
	if err != nil {
		return err
	}
	var newest warder.Stats
	if len(list) > 0 {
		newest = list[len(list)-1]
	} else if newest, err = s.observe.AgentStats(r.Context(), caller, id); err != nil {
		return err
	}
	samples := make([]wire.Stats, len(list))
	for i, st := range list {
		samples[i] = wire.Stats(st)
	}
	return writeJSON(w, http.StatusOK, warder.StatsHistoryResponse{Stats: statsView(newest), History: samples})
}

// events streams the status changes of the caller's agents (an admin's:
// everyone's) as "status" events, each with its id; a client that
// reconnects with Last-Event-ID gets what it missed first.
func (s *Server) events(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var after int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return warder.Errorf(warder.ErrInvalid, "Last-Event-ID must be the id of an event this stream sent, not %q", echoed(v))
		}
		after = n
	}
	ctx, cancel, err := s.streamContext(r, caller)
	if err != nil {
		return err
	}
	defer cancel()
	l := &live{s: s, w: w, r: r, kind: "events", sse: true, cancel: cancel}
	err = s.observe.WatchEvents(ctx, caller, after, l.open, func(c warder.StatusChange) error {
		return l.out.eventWithID("status", c.ID, c)
	})
	return l.finish(err, "")
}

// statsView is a runtime's sample as the API shows it. The conversion
// to wire.Stats is Go's: the two types have the same fields, or this
// does not build.
func statsView(st warder.Stats) wire.StatsView { return wire.NewStatsView(wire.Stats(st)) }
