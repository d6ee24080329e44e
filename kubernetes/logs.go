package kubernetes

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warder/warder"
)

// StreamLogs calls fn for each line opts selects. The pod log API merges
// stdout and stderr, so every line is StreamStdout. With Follow it ends
// when the agent's container ends.
func (r *Runtime) StreamLogs(ctx context.Context, id string, opts warder.LogOptions, fn func(warder.LogLine) error) error {
	rec, err := r.record(ctx, id)
	if err != nil {
		return err
	}
	if p, err := r.getPod(ctx, rec); err != nil || p == nil {
		return err // no Pod: stopped or never started, no output
	}
	q := []string{"container", containerName, "timestamps", "true"}
	if opts.Lines > 0 {
		q = append(q, "tailLines", strconv.Itoa(opts.Lines))
	}
	if !opts.Since.IsZero() {
		q = append(q, "sinceTime", opts.Since.UTC().Format(time.RFC3339))
	}
	if opts.Follow {
		q = append(q, "follow", "true")
	}
	hc := r.api.http
	if opts.Follow {
		hc = r.api.stream
	}
	resp, err := r.api.send(ctx, hc, http.MethodGet, r.podPath(rec.Metadata.Name)+"/log"+query(q...), nil)
	if errors.Is(err, warder.ErrNotFound) || errors.Is(err, warder.ErrInvalid) {
		// No Pod (stopped), or its container has not started: no output.
		return nil
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = readLines(resp.Body, func(line string) error {
		l := warder.LogLine{Stream: warder.StreamStdout, Text: line}
		if ts, text, ok := strings.Cut(line, " "); ok {
			if t, perr := time.Parse(time.RFC3339Nano, ts); perr == nil {
				l.Text = text
				if !opts.Since.IsZero() && t.Before(opts.Since) {
					return nil // sinceTime has whole seconds
				}
				if opts.Timestamps {
					l.Time = t
				}
			}
		}
		return fn(l)
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readLines calls fn with each line of src, without its line ending, cut
// at warder.MaxLogLineBytes (marked warder.LogLineCut); the rest of a long
// line is skipped, so at most one bound's worth is held.
func readLines(src io.Reader, fn func(string) error) error {
	br := bufio.NewReaderSize(src, 64<<10)
	var buf []byte
	cut := false
	for {
		part, err := br.ReadSlice('\n')
		if !cut {
			buf = append(buf, part...)
			if len(buf) > warder.MaxLogLineBytes+1 { // a "\r\n" ending is not the line's
				b := buf[:warder.MaxLogLineBytes]
				// Cut before a character the bound splits.
				for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
					if utf8.RuneStart(b[i]) {
						if !utf8.FullRune(b[i:]) {
							b = b[:i]
						}
						break
					}
				}
				if ferr := fn(string(b) + warder.LogLineCut); ferr != nil {
					return ferr
				}
				cut, buf = true, buf[:0]
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil || (err == io.EOF && len(buf) > 0):
			if !cut {
				line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
				if ferr := fn(line); ferr != nil {
					return ferr
				}
			}
			cut, buf = false, buf[:0]
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return warder.Errorf(warder.ErrUnavailable, "read logs: %v", err)
		}
	}
}
