package apitest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Event is one Server-Sent Event of a LiveStream.
type Event struct {
	Name string // "message" when the stream gave none
	Data string
	ID   string // the id field, if the event had one
	// Received is when the event's last line was read.
	Received time.Time
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.Data), v); err != nil {
		t.Fatalf("event %s: data %q: %v", e.Name, e.Data, err)
	}
}

// LiveStream is a streaming response the test reads: its events (SSE) or
// lines (plain text) as they come.
type LiveStream struct {
	Resp   *http.Response
	Events chan Event  // closed when the stream ends
	Lines  chan string // for plain text streams; closed at the end
	cancel context.CancelFunc
	tr     *http.Transport
}

// Open GETs path as c on a connection of its own. With sse it asks for
// Server-Sent Events and checks every line of the stream is SSE framing.
// The stream is closed when the test ends.
func (c *Client) Open(path string, sse bool) *LiveStream {
	c.T.Helper()
	return c.OpenAfter(path, sse, "")
}

// OpenAfter is Open sending lastEventID (when not "") as Last-Event-ID,
// as a client reconnecting does.
func (c *Client) OpenAfter(path string, sse bool, lastEventID string) *LiveStream {
	c.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
	if err != nil {
		c.T.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if sse {
		req.Header.Set("Accept", "text/event-stream")
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		c.T.Fatalf("GET %s: %v", path, err)
	}
	s := &LiveStream{Resp: resp, cancel: cancel, tr: tr, Events: make(chan Event, 100), Lines: make(chan string, 100)}
	c.T.Cleanup(s.Close)
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		c.T.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	t := c.T
	go func() {
		defer close(s.Events)
		defer close(s.Lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		ev := Event{}
		for sc.Scan() {
			line := sc.Text()
			if !sse {
				s.Lines <- line
				continue
			}
			switch {
			case line == "":
				if ev.Data != "" {
					if ev.Name == "" {
						ev.Name = "message"
					}
					ev.Received = time.Now()
					s.Events <- ev
				}
				ev = Event{}
			case strings.HasPrefix(line, ": "):
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if ev.Data != "" {
					t.Errorf("event with two data lines: %q", line)
				}
				ev.Data = strings.TrimPrefix(line, "data: ")
			default:
				t.Errorf("stream %s: line %q is not SSE framing", path, line)
			}
		}
	}()
	return s
}

// Close ends the request and drops the connection.
func (s *LiveStream) Close() {
	s.cancel()
	s.Resp.Body.Close()
	s.tr.CloseIdleConnections()
}

// Next returns the next event, failing the test after within.
func (s *LiveStream) Next(t *testing.T, within time.Duration) Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events:
		if !ok {
			t.Fatalf("stream ended while waiting %s for an event", within)
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return Event{}
}

// NextLine returns the next line of a plain text stream.
func (s *LiveStream) NextLine(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-s.Lines:
		if !ok {
			t.Fatalf("stream ended while waiting %s for a line", within)
		}
		return l
	case <-time.After(within):
		t.Fatalf("no line within %s", within)
	}
	return ""
}

// TryStream GETs path as c and returns the status and, for a refusal, the
// body; a stream that opens is closed at once.
func (c *Client) TryStream(path string) (int, []byte) {
	c.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		c.T.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, nil
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// Stream sends a request and returns the response, whose body the caller
// reads as it comes; it is closed when the test ends.
func (c *Client) Stream(method, path, body string) *http.Response {
	c.T.Helper()
	req, err := http.NewRequest(method, c.Base+path, strings.NewReader(body))
	if err != nil {
		c.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	c.T.Cleanup(func() { resp.Body.Close() })
	return resp
}

// SSEEvent is one Server-Sent Event with JSON data, as SSEReader reads it.
type SSEEvent struct {
	Name string
	Data map[string]any
}

// SSEReader reads events from a stream one at a time.
type SSEReader struct {
	t *testing.T
	r *bufio.Reader
}

// Events reads resp's body as Server-Sent Events, failing unless it is a
// 200 event stream.
func Events(t *testing.T, resp *http.Response) *SSEReader {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return &SSEReader{t: t, r: bufio.NewReader(resp.Body)}
}

// Next returns the next event, failing the test at the end of the stream.
func (s *SSEReader) Next() SSEEvent {
	s.t.Helper()
	var ev SSEEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream ended: %v (%q)", err, line)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err != nil {
				s.t.Fatalf("event data %q: %v", line, err)
			}
		case line == "" && ev.Data != nil:
			return ev
		}
	}
}
