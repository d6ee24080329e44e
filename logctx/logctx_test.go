package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := WithRequestID(context.Background(), "abc123")
	log.InfoContext(ctx, "in a request")
	log.Info("outside any request")
	log.InfoContext(context.Background(), "no id")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for i, want := range []string{"abc123", "", ""} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatal(err)
		}
		got, _ := rec["request_id"].(string)
		if got != want || rec["component"] != "test" {
			t.Errorf("line %d: request_id=%q component=%v, want %q", i, got, rec["component"], want)
		}
	}
	if h := NewHandler(log.Handler()); h != log.Handler() {
		t.Error("wrapping twice adds a second request_id")
	}
}
