package api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Streams' timing. A client that does not take a write within
// streamWriteTimeout is cut off, which releases whatever its stream holds
// (a Docker log stream, a subscription); keep-alive comments every
// keepAliveEvery find a client that left without closing, and keep
// proxies from timing the stream out.
const (
	streamWriteTimeout = 10 * time.Second
	keepAliveEvery     = 15 * time.Second
)

// stream writes a response that stays open: Server-Sent Events or plain
// text, each piece flushed at once. It is safe for concurrent use (the
// keep-alive writes between events). After a failed write every later
// one fails with the same error.
type stream struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

// openSSE starts a Server-Sent Events response.
func openSSE(w http.ResponseWriter) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would hold events back
	return open(w)
}

// openText starts a plain text response sent in chunks as it comes.
func openText(w http.ResponseWriter) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no")
	return open(w)
}

func open(w http.ResponseWriter) *stream {
	if t := trackedOf(w); t != nil {
		t.streamed = true
	}
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, rc: http.NewResponseController(w)}
	s.write(nil) // send the headers now: the client knows the stream is open
	return s
}

// event writes one event named name (none: the default "message") whose
// data is v as JSON. JSON escapes line breaks, so the data is one line
// and needs one data field.
func (s *stream) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if name != "" {
		b.WriteString("event: " + name + "\n")
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return s.write(b.Bytes())
}

// eventWithID is event with an id field, which a client sends back as
// Last-Event-ID when it reconnects.
func (s *stream) eventWithID(name string, id int64, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if id > 0 {
		b.WriteString("id: " + strconv.FormatInt(id, 10) + "\n")
	}
	b.WriteString("event: " + name + "\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	return s.write(b.Bytes())
}

// comment writes an SSE comment, which clients ignore.
func (s *stream) comment(text string) error {
	return s.write([]byte(": " + text + "\n\n"))
}

// line writes one line of plain text.
func (s *stream) line(text string) error { return s.write([]byte(text + "\n")) }

func (s *stream) write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	// Not every writer supports deadlines (a test recorder does not).
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if len(p) > 0 {
		if _, err := s.w.Write(p); err != nil {
			s.err = err
			return err
		}
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
		return err
	}
	return nil
}

// keepAlive writes a comment every interval until stop is called; when a
// write fails (the client is gone) it calls gone. stop waits for it to end.
func (s *stream) keepAlive(every time.Duration, gone func()) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := s.comment("keep-alive"); err != nil {
					gone()
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}

// close lifts the write deadline, so the server can finish the response.
func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.rc.SetWriteDeadline(time.Time{})
}

// acceptsEventStream reports whether the client asked for Server-Sent
// Events (as EventSource does).
func acceptsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if t, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && t == "text/event-stream" {
			return true
		}
	}
	return false
}
