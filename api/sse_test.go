package api

import (
	"bufio"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
)

// syncRecorder is a ResponseRecorder safe to read while a keep-alive
// goroutine writes to it.
type syncRecorder struct {
	mu sync.Mutex
	*httptest.ResponseRecorder
}

func (r *syncRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ResponseRecorder.Write(p)
}

func (r *syncRecorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ResponseRecorder.Flush()
}

func (r *syncRecorder) body() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Body.String()
}

func TestSSEFraming(t *testing.T) {
	t.Parallel()
	rec := &syncRecorder{ResponseRecorder: httptest.NewRecorder()}
	tw := &tracked{ResponseWriter: rec}
	s := openSSE(tw)
	if !rec.Flushed || rec.Code != 200 || !tw.streamed {
		t.Fatalf("headers not sent at once: flushed=%v code=%d streamed=%v", rec.Flushed, rec.Code, tw.streamed)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// A line break in the data must not break the frame: JSON escapes it.
	if err := s.event("stdout", warder.LogLine{Stream: "stdout", Text: "two\nlines\r"}); err != nil {
		t.Fatal(err)
	}
	s.event("", map[string]int{"n": 1})
	s.comment("keep-alive")
	want := "event: stdout\ndata: {\"stream\":\"stdout\",\"line\":\"two\\nlines\\r\"}\n\n" +
		"data: {\"n\":1}\n\n" +
		": keep-alive\n\n"
	if got := rec.body(); got != want {
		t.Fatalf("stream =\n%q\nwant\n%q", got, want)
	}
	// Every frame parses as SSE: fields, then a blank line.
	sc := bufio.NewScanner(strings.NewReader(rec.body()))
	for sc.Scan() {
		l := sc.Text()
		if l != "" && !strings.HasPrefix(l, "event: ") && !strings.HasPrefix(l, "data: ") && !strings.HasPrefix(l, ": ") {
			t.Fatalf("line %q is no SSE field", l)
		}
	}
}

func TestSSEKeepAlive(t *testing.T) {
	rec := &syncRecorder{ResponseRecorder: httptest.NewRecorder()}
	s := openSSE(rec)
	gone := make(chan struct{})
	stop := s.keepAlive(5*time.Millisecond, func() { close(gone) })
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(rec.body(), ": keep-alive\n\n") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no keep-alives: %q", rec.body())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop() // safe twice
	n := len(rec.body())
	time.Sleep(20 * time.Millisecond)
	if len(rec.body()) != n {
		t.Fatal("keep-alive went on after stop")
	}

	// A failed write tells the stream its client is gone.
	broken := openSSE(&failingWriter{ResponseRecorder: httptest.NewRecorder()})
	broken.keepAlive(time.Millisecond, func() { close(gone) })
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("a failing keep-alive did not report the client gone")
	}
	if err := broken.event("x", 1); err == nil {
		t.Fatal("write after a failed one succeeded")
	}
}

type failingWriter struct{ *httptest.ResponseRecorder }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestAcceptsEventStream(t *testing.T) {
	t.Parallel()
	for accept, want := range map[string]bool{
		"":                                 false,
		"application/json":                 false,
		"text/event-stream":                true,
		"text/html, text/event-stream;q=1": true,
		"*/*":                              false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		if got := acceptsEventStream(r); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-27T05:00:00Z", time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), true},
		{"2026-11-27T06:00:00.5+01:00", time.Date(2026, 11, 27, 5, 0, 0, 5e8, time.UTC), true},
		{"1795000000", time.Unix(1795000000, 0), true},
		{"10m", now.Add(-10 * time.Minute), true},
		{"-10m", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseTime("since", tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseTime(%q) error = %v", tt.in, err)
			continue
		}
		if tt.ok && got.Sub(tt.want).Abs() > time.Second {
			t.Errorf("parseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := plainLine(warder.LogLine{Stream: "stderr", Text: "boom"}); got != "stderr boom" {
		t.Errorf("plainLine = %q", got)
	}
	ts := time.Date(2026, 11, 27, 5, 0, 0, 1, time.UTC)
	if got := plainLine(warder.LogLine{Stream: "stdout", Time: ts, Text: "x"}); got != "stdout 2026-11-27T05:00:00.000000001Z x" {
		t.Errorf("plainLine with time = %q", got)
	}
}
