package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// liveEvent is one Server-Sent Event as a client sees it.
type liveEvent struct {
	name string // "message" when the stream gave none
	data string
}

// decode unmarshals the event's data into v.
func (e liveEvent) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.data), v); err != nil {
		t.Fatalf("event %s: data %q: %v", e.name, e.data, err)
	}
}

// liveStream is a streaming response the test reads.
type liveStream struct {
	resp   *http.Response
	events chan liveEvent // closed when the stream ends
	lines  chan string    // for plain text streams; closed at the end
	cancel context.CancelFunc
	tr     *http.Transport
}

// open GETs path as c on a connection of its own. With sse it asks for
// Server-Sent Events and checks every line of the stream is SSE framing.
// The stream is closed when the test ends.
func (c *client) open(path string, sse bool) *liveStream {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if sse {
		req.Header.Set("Accept", "text/event-stream")
	}
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		c.t.Fatalf("GET %s: %v", path, err)
	}
	s := &liveStream{resp: resp, cancel: cancel, tr: tr, events: make(chan liveEvent, 100), lines: make(chan string, 100)}
	c.t.Cleanup(s.close)
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	t := c.t
	go func() {
		defer close(s.events)
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		ev := liveEvent{}
		for sc.Scan() {
			line := sc.Text()
			if !sse {
				s.lines <- line
				continue
			}
			switch {
			case line == "":
				if ev.data != "" {
					if ev.name == "" {
						ev.name = "message"
					}
					s.events <- ev
				}
				ev = liveEvent{}
			case strings.HasPrefix(line, ": "):
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if ev.data != "" {
					t.Errorf("event with two data lines: %q", line)
				}
				ev.data = strings.TrimPrefix(line, "data: ")
			default:
				t.Errorf("stream %s: line %q is not SSE framing", path, line)
			}
		}
	}()
	return s
}

// close ends the request and drops the connection.
func (s *liveStream) close() {
	s.cancel()
	s.resp.Body.Close()
	s.tr.CloseIdleConnections()
}

// next returns the next event, failing the test after within.
func (s *liveStream) next(t *testing.T, within time.Duration) liveEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("stream ended while waiting %s for an event", within)
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return liveEvent{}
}

// nextLine returns the next line of a plain text stream.
func (s *liveStream) nextLine(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatalf("stream ended while waiting %s for a line", within)
		}
		return l
	case <-time.After(within):
		t.Fatalf("no line within %s", within)
	}
	return ""
}

// scrape returns the server's /metrics.
func (ts *testServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// metric returns the value of one series in a scrape (series as written
// there, labels sorted by name), or -1 when it is absent.
func metric(scrape, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrape)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// waitMetric polls /metrics until series has value want.
func (ts *testServer) waitMetric(t *testing.T, series string, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := metric(ts.scrape(t), series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %s, want %v", series, got, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hit sends one request to the agent, which logs a line for it.
func hit(t *testing.T, port int, path string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
