package docker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// frame is one frame of the engine's multiplexed stream: 1 stdout, 2 stderr,
// 3 an error of the engine's own.
func frame(stream byte, s string) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

func TestDemuxLines(t *testing.T) {
	var src bytes.Buffer
	src.Write(frame(1, "2026-11-27T05:00:00.123456789Z one\n"))
	src.Write(frame(2, "2026-11-27T05:00:01Z err one\r\n2026-11-27T05:00:02Z err "))
	src.Write(frame(1, "2026-11-27T05:00:03Z two\n"))
	src.Write(frame(2, "two\n"))
	src.Write(frame(1, "no timestamp here"))
	var got []warder.LogLine
	err := demuxLines(&src, true, func(l warder.LogLine) error { got = append(got, l); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []warder.LogLine{
		{Stream: "stdout", Time: time.Date(2026, 11, 27, 5, 0, 0, 123456789, time.UTC), Text: "one"},
		{Stream: "stderr", Time: time.Date(2026, 11, 27, 5, 0, 1, 0, time.UTC), Text: "err one"},
		{Stream: "stdout", Time: time.Date(2026, 11, 27, 5, 0, 3, 0, time.UTC), Text: "two"},
		{Stream: "stderr", Time: time.Date(2026, 11, 27, 5, 0, 2, 0, time.UTC), Text: "err two"},
		{Stream: "stdout", Text: "no timestamp here"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].Stream != want[i].Stream || got[i].Text != want[i].Text || !got[i].Time.Equal(want[i].Time) {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Without timestamps the text is kept as written.
	got = nil
	demuxLines(bytes.NewReader(frame(1, "2026-11-27T05:00:00Z x\n")), false, func(l warder.LogLine) error { got = append(got, l); return nil })
	if len(got) != 1 || got[0].Text != "2026-11-27T05:00:00Z x" || !got[0].Time.IsZero() {
		t.Fatalf("without timestamps: %+v", got)
	}

	// fn's error stops the copy and comes back as it was.
	boom := errors.New("client gone")
	err = demuxLines(bytes.NewReader(append(frame(1, "a\n"), frame(1, "b\n")...)), false, func(warder.LogLine) error { return boom })
	var fe fnError
	if !errors.As(err, &fe) || fe.err != boom {
		t.Fatalf("demuxLines with failing fn = %v", err)
	}
	// An engine error inside the stream is an error.
	if err := demuxLines(bytes.NewReader(frame(3, "disk on fire")), false, func(warder.LogLine) error { return nil }); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("systemerr frame = %v", err)
	}
}

// TestStreams follows a real container's logs and stats, and checks both
// streams end when it stops.
func TestStreams(t *testing.T) {
	testenv.Docker(t)
	r := newRuntime(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, r)
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, r, id)

	lines := make(chan warder.LogLine, 100)
	logsDone := make(chan error, 1)
	go func() {
		opts := warder.LogOptions{Follow: true, Timestamps: true, Since: time.Now()}
		logsDone <- r.StreamLogs(ctx, id, opts, func(l warder.LogLine) error { lines <- l; return nil })
	}()
	samples := make(chan warder.Stats, 100)
	statsDone := make(chan error, 1)
	go func() { statsDone <- r.StatsStream(ctx, id, func(s warder.Stats) { samples <- s }) }()

	// Each request to the agent writes a line, which the follow delivers.
	for i := range 3 {
		path := fmt.Sprintf("/nothing-here?n=%d", i)
		resp, err := http.Get("http://" + endpointOf(t, r, id) + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// The agent's own start-up lines may come first: the engine stamps
		// lines when it reads them, which can be after the Since taken
		// once the agent answered (CI saw "warder-agent starting").
		deadline := time.After(10 * time.Second)
	next:
		for {
			select {
			case l := <-lines:
				if i == 0 && !strings.Contains(l.Text, "GET /nothing-here") {
					continue
				}
				if l.Stream != warder.StreamStdout || !strings.Contains(l.Text, "GET /nothing-here 404") || time.Since(l.Time) > time.Minute {
					t.Fatalf("followed line = %+v", l)
				}
				break next
			case <-deadline:
				t.Fatalf("request %d wrote no line within 10s", i)
			}
		}
	}
	for i := range 2 {
		select {
		case s := <-samples:
			if s.ReadAt.IsZero() || s.MemoryBytes == 0 || s.Pids == 0 || s.CPUPercent < 0 {
				t.Fatalf("sample %d = %+v", i, s)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no stats sample %d within 5s", i)
		}
	}

	if err := r.Stop(ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for name, done := range map[string]chan error{"logs": logsDone, "stats": statsDone} {
		select {
		case err := <-done:
			if name == "logs" && err != nil || name == "stats" && !errors.Is(err, warder.ErrConflict) {
				t.Fatalf("%s stream ended with %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s stream still open 10s after the container stopped", name)
		}
	}
	if err := r.StatsStream(ctx, "no-such-container-"+testenv.UniqueName(""), func(warder.Stats) {}); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("StatsStream of a missing container = %v, want ErrNotFound", err)
	}
}
