package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/warder/warder/wire"
)

// maxEventBytes bounds one event, all its data lines together: the
// server sends at most a 64 KiB log line or a 4 MiB chat answer in one.
const maxEventBytes = 8 << 20

// event is one Server-Sent Event: its name ("" for the default) and data.
type event struct {
	name string
	data []byte
}

// stream makes a call answered with Server-Sent Events and hands each
// event to fn, until the server sends "end" (its reason is returned),
// "error" (an *Error with Status 0), or closes; until fn fails (its
// error); or until ctx ends (ctx's error, or for a watch that had begun,
// no error and no reason). The response is closed in every case.
func (c *Client) stream(ctx context.Context, r request, fn func(event) error) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set("Accept", "text/event-stream")
	resp, err := c.send(ctx, r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes)
	var ev event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data == nil {
				ev = event{}
				continue
			}
			switch ev.name {
			case "end":
				var end wire.StreamEnd
				json.Unmarshal(ev.data, &end)
				return end.Reason, nil
			case "error":
				var e wire.ErrorResponse
				json.Unmarshal(ev.data, &e)
				return "", &Error{Detail: e.Detail, RequestID: resp.Header.Get("X-Request-ID")}
			}
			if err := fn(ev); err != nil {
				return "", err
			}
			ev = event{}
		case strings.HasPrefix(line, ":"): // a comment: keep-alive
		case strings.HasPrefix(line, "event:"):
			ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if len(ev.data)+1+len(data) > maxEventBytes { // many data lines make one event
				return "", fmt.Errorf("warder client: %s %s: stream: %w (an event over %d MiB)", r.method, r.path, ErrAnswerTooLarge, maxEventBytes>>20)
			}
			if ev.data != nil {
				ev.data = append(ev.data, '\n')
			}
			ev.data = append(ev.data, data...)
		}
	}
	if err := ctx.Err(); err != nil {
		if r.watch {
			return "", nil // the caller ended it
		}
		return "", err
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return "", fmt.Errorf("warder client: %s %s: stream: %w (a line over %d MiB)", r.method, r.path, ErrAnswerTooLarge, maxEventBytes>>20)
	} else if err != nil {
		return "", fmt.Errorf("warder client: %s %s: stream: %w", r.method, r.path, err)
	}
	return "", nil
}

// decodeEvent is fn for a stream whose events carry T.
func decodeEvent[T any](fn func(T) error) func(event) error {
	return func(ev event) error {
		var v T
		if err := json.Unmarshal(ev.data, &v); err != nil {
			return fmt.Errorf("warder client: decode %q event: %w", ev.name, err)
		}
		return fn(v)
	}
}

// StreamLogs sends the agent's output to fn line by line: the lines
// opts selects (every line, the latest opts.Tail, or with opts.OnlyNew
// none), then with opts.Follow each new line as it is written, until
// the agent stops, fn fails or ctx ends. The returned reason is the
// server's ("the agent container stopped"); a follow that ctx ends
// returns no error (and no reason).
func (c *Client) StreamLogs(ctx context.Context, id string, opts LogOptions, fn func(wire.LogLine) error) (reason string, err error) {
	return c.stream(ctx, request{method: http.MethodGet, path: "/api/agents/" + seg(id) + "/logs", query: logQuery(opts), watch: opts.Follow},
		decodeEvent(fn))
}

// WatchStats sends fn each resource sample of the running agent as it is
// taken (about one a second) until the container stops (reason "the
// agent container stopped"), fn fails or ctx ends (no error).
func (c *Client) WatchStats(ctx context.Context, id string, fn func(wire.StatsView) error) (reason string, err error) {
	return c.stream(ctx, request{method: http.MethodGet, path: "/api/agents/" + seg(id) + "/stats",
		query: url.Values{"stream": {"true"}}, watch: true}, decodeEvent(fn))
}

// Events sends fn every status change of the caller's agents (an
// admin's: everyone's) from now on, until fn fails, ctx ends (no error)
// or the server ends the stream (shutting down, the credential revoked).
func (c *Client) Events(ctx context.Context, fn func(wire.StatusChange) error) (reason string, err error) {
	return c.stream(ctx, request{method: http.MethodGet, path: "/api/events", watch: true}, decodeEvent(fn))
}

// EventsAfter is Events for a client reconnecting: it sends after (the
// ID of the last change it got) as Last-Event-ID, so the changes recorded
// since come first (those the server still keeps), each once. A client
// following events across a server's restart, or across replicas, calls
// it again with the last ID when a stream ends.
func (c *Client) EventsAfter(ctx context.Context, after int64, fn func(wire.StatusChange) error) (reason string, err error) {
	h := http.Header{}
	h.Set("Last-Event-ID", strconv.FormatInt(after, 10))
	return c.stream(ctx, request{method: http.MethodGet, path: "/api/events", header: h, watch: true}, decodeEvent(fn))
}

// errDone stops a stream once "done" has come.
var errDone = errors.New("done")
