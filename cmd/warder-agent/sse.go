package main

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// sseWriter writes an answer as Server-Sent Events: one unnamed event
// {"content": piece} per piece, then "done" with the whole answer, or
// "error" with {"detail"} when it fails after the first piece. The status
// and headers go out with the first event, so a failure before it is
// still an ordinary error response.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) delta(piece string) error {
	return s.event("", map[string]string{"content": piece})
}

// event writes one event and flushes it; name "" is the default event.
func (s *sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v) // one line: JSON escapes newlines
	if err != nil {
		return err
	}
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // tell reverse proxies not to buffer
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	if name != "" {
		if _, err := fmt.Fprintf(s.w, "event: %s\n", name); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", data); err != nil {
		return err
	}
	return s.rc.Flush()
}
