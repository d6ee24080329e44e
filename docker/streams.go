package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// StatsStream follows the container's stats: the engine sends a sample
// every second, each carrying the one before it (PreCPUStats), so CPU %
// is computed per sample as `docker stats` does. The first sample has no
// predecessor and is skipped. A stopped container's stream goes on with
// empty samples; the first one ends the stream with ErrConflict.
func (r *Runtime) StatsStream(ctx context.Context, id string, fn func(warder.Stats)) error {
	res, err := r.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return mapErr(err, "stats of container "+id)
	}
	defer res.Body.Close() // also done by the client once ctx ends
	dec := json.NewDecoder(res.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, io.EOF):
				// The engine ends the stream when the container is removed.
				return errNotRunning()
			}
			return mapErr(err, "read stats of container "+id)
		}
		if s.Read.IsZero() {
			return errNotRunning()
		}
		if s.PreRead.IsZero() {
			continue
		}
		fn(statsFrom(&s))
	}
}

// StreamLogs sends the container's output line by line, each tagged with
// its stream. The engine multiplexes stdout and stderr into frames (agent
// containers have no TTY); each stream is split into lines separately, so
// a line written in several pieces stays one line.
func (r *Runtime) StreamLogs(ctx context.Context, id string, opts warder.LogOptions, fn func(warder.LogLine) error) error {
	rc, err := r.cli.ContainerLogs(ctx, id, logsOptions(opts))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return mapErr(err, "logs of container "+id)
	}
	defer rc.Close() // also done by the client once ctx ends
	err = demuxLines(rc, opts.Timestamps, fn)
	var failed fnError
	switch {
	case errors.As(err, &failed):
		return failed.err
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return mapErr(err, "read logs of container "+id)
	}
	return nil
}

// logsOptions is the engine's form of opts; Lines 0 means all lines.
func logsOptions(opts warder.LogOptions) client.ContainerLogsOptions {
	o := client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Tail:       "all",
		Timestamps: opts.Timestamps,
		Follow:     opts.Follow,
	}
	if opts.Lines > 0 {
		o.Tail = strconv.Itoa(opts.Lines)
	}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	return o
}

// fnError carries the caller's own error out of stdcopy untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// demuxLines reads a multiplexed log stream to its end, calling fn for
// each line of each stream; a last line without a newline is sent too.
// It is pure so it can be tested on recorded frames.
func demuxLines(src io.Reader, timestamps bool, fn func(warder.LogLine) error) error {
	out := &lineWriter{stream: warder.StreamStdout, timestamps: timestamps, fn: fn}
	errw := &lineWriter{stream: warder.StreamStderr, timestamps: timestamps, fn: fn}
	if _, err := stdcopy.StdCopy(out, errw, src); err != nil {
		return err
	}
	if err := out.flush(); err != nil {
		return err
	}
	return errw.flush()
}

// maxLineBytes bounds a line held back waiting for its newline; a longer
// one is sent in pieces.
const maxLineBytes = 64 << 10

// lineWriter splits one stream's bytes into lines.
type lineWriter struct {
	stream     string
	timestamps bool
	fn         func(warder.LogLine) error
	buf        []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if err := w.send(line); err != nil {
			return 0, err
		}
	}
	if len(w.buf) >= maxLineBytes {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a large frame's array go
	}
	return len(p), nil
}

// flush sends what is left as a line of its own.
func (w *lineWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	line := string(w.buf)
	w.buf = nil
	return w.send(line)
}

// send parses the engine's timestamp, when asked for, off the line.
func (w *lineWriter) send(line string) error {
	l := warder.LogLine{Stream: w.stream, Text: strings.TrimSuffix(line, "\r")}
	if w.timestamps {
		if ts, rest, ok := strings.Cut(l.Text, " "); ok {
			if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				l.Time, l.Text = t.UTC(), rest
			}
		}
	}
	if err := w.fn(l); err != nil {
		return fnError{err}
	}
	return nil
}
