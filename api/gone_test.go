package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientGoneIsNoInternalError: work cancelled because the client left
// (a browser navigating away mid-request) is not logged as an internal
// error; the same error while the client is still there is.
func TestClientGoneIsNoInternalError(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("GET", "/api/agents/x/stats", nil).WithContext(ctx), fmt.Errorf("reading stats: %w", context.Canceled))
	if strings.Contains(logs.String(), "internal error") || w.Code != statusClientGone {
		t.Fatalf("a client that left: %d, logged %q", w.Code, logs.String())
	}
	w = httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("GET", "/api/agents/x/stats", nil), context.Canceled)
	if !strings.Contains(logs.String(), "internal error") || w.Code != 500 {
		t.Fatalf("a cancellation with the client there: %d, logged %q", w.Code, logs.String())
	}
}
