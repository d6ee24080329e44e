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
	"unicode/utf8"

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
	body := newBudgetReader(res.Body, maxStatsSampleBytes, "a stats sample")
	dec := json.NewDecoder(body)
	for {
		var s container.StatsResponse
		body.refill()
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

// lineWriter splits one stream's bytes into lines. A line longer than
// warder.MaxLogLineBytes is sent as soon as it passes the bound, cut and
// marked, and the rest of it is skipped: a writer holds at most that much.
type lineWriter struct {
	stream     string
	timestamps bool
	fn         func(warder.LogLine) error
	buf        []byte
	cut        bool // the line under way was cut: skip to its end
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		part, rest, ended := bytes.Cut(p, []byte{'\n'})
		if err := w.add(part); err != nil {
			return 0, err
		}
		if !ended {
			break
		}
		p = rest
		if err := w.end(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// add appends part of the line under way; past the bound, it sends what
// fits, cut at a character boundary, and skips the rest. It holds one
// byte more than the bound: a "\r" that ends the line is not part of it.
func (w *lineWriter) add(part []byte) error {
	if w.cut {
		return nil
	}
	if room := warder.MaxLogLineBytes + 1 - len(w.buf); len(part) > room {
		w.buf = append(w.buf, part[:room]...)
		return w.sendCut()
	}
	w.buf = append(w.buf, part...)
	return nil
}

// end sends the line under way, unless it went out cut.
func (w *lineWriter) end() error {
	var err error
	switch {
	case w.cut:
	case len(w.buf) > warder.MaxLogLineBytes && w.buf[len(w.buf)-1] != '\r':
		err = w.sendCut()
	default:
		err = w.send(string(w.buf))
	}
	w.buf, w.cut = w.buf[:0], false
	return err
}

// sendCut sends the line under way cut at the bound, and skips the rest.
func (w *lineWriter) sendCut() error {
	w.cut = true
	return w.send(string(wholeRunes(w.buf[:warder.MaxLogLineBytes])) + warder.LogLineCut)
}

// flush sends what is left as a line of its own.
func (w *lineWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	return w.end()
}

// wholeRunes is b without a UTF-8 character cut in two at its end.
func wholeRunes(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
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
