package docker

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/warder/warder"
)

// Logs returns the container's stdout and stderr, one line per line in
// the order written, each cut at warder.MaxLogLineBytes. Lines 0 means
// all lines. The text is built once, and reading stops as soon as it would
// pass warder.MaxLogsBytes: that is ErrTooLarge, not a truncated answer,
// since the lines asked for are the newest and the oldest come first.
func (r *Runtime) Logs(ctx context.Context, id string, opts warder.LogOptions) (string, error) {
	opts.Follow = false
	rc, err := r.cli.ContainerLogs(ctx, id, logsOptions(opts))
	if err != nil {
		return "", mapErr(err, "logs of container "+id)
	}
	defer rc.Close()
	logs, err := collectLogs(rc)
	var failed fnError
	if errors.As(err, &failed) {
		return "", failed.err
	}
	return logs, mapErr(err, "read logs of container "+id)
}

// collectLogs reads a multiplexed log stream into text, one line per line,
// stopping with errTooMuchLog (as an fnError) once it would pass the
// bound. Timestamps stay in the text as the engine wrote them.
func collectLogs(src io.Reader) (string, error) {
	var out strings.Builder
	err := demuxLines(src, false, func(l warder.LogLine) error {
		if out.Len()+len(l.Text)+1 > warder.MaxLogsBytes {
			return errTooMuchLog
		}
		out.WriteString(l.Text)
		out.WriteByte('\n')
		return nil
	})
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

var errTooMuchLog = warder.Errorf(warder.ErrTooLarge, "the logs asked for are over %d MiB, the most answered at once", warder.MaxLogsBytes>>20)
