package warder_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// lines is an Observer whose output is n copies of one line, counting
// how many it sent before the caller stopped it.
type lines struct {
	warder.Observer
	n    int
	line string
	at   time.Time
	sent int
}

func (l *lines) StreamLogs(_ context.Context, _ string, opts warder.LogOptions, fn func(warder.LogLine) error) error {
	for range l.n {
		ll := warder.LogLine{Stream: warder.StreamStdout, Text: l.line}
		if opts.Timestamps {
			ll.Time = l.at
		}
		l.sent++
		if err := fn(ll); err != nil {
			return err
		}
	}
	return nil
}

// TestCollectLogs: logs over MaxLogsBytes are ErrTooLarge, found without
// reading the rest; logs within it come whole, a line per line, with
// Docker's fixed-width timestamps when asked.
func TestCollectLogs(t *testing.T) {
	ctx := context.Background()
	big := &lines{n: 200, line: strings.Repeat("L", warder.MaxLogLineBytes)}
	logs, err := warder.CollectLogs(ctx, big, "x", warder.LogOptions{})
	if !errors.Is(err, warder.ErrTooLarge) || !strings.Contains(warder.ErrorMessage(err), "over 4 MiB") || logs != "" {
		t.Fatalf("CollectLogs = %d bytes, %v; want ErrTooLarge naming 4 MiB", len(logs), err)
	}
	if big.sent > 100 {
		t.Fatalf("%d lines read of 200 before giving up", big.sent)
	}
	at := time.Date(2026, 12, 7, 13, 0, 0, 120000000, time.UTC)
	small := &lines{n: 2, line: "hello", at: at}
	logs, err = warder.CollectLogs(ctx, small, "x", warder.LogOptions{Timestamps: true})
	want := "2026-12-07T13:00:00.120000000Z hello\n2026-12-07T13:00:00.120000000Z hello\n"
	if err != nil || logs != want {
		t.Fatalf("CollectLogs = %q, %v; want %q", logs, err, want)
	}
	if logs, err = warder.CollectLogs(ctx, &lines{}, "x", warder.LogOptions{}); err != nil || logs != "" {
		t.Fatalf("no output: %q, %v", logs, err)
	}
}
