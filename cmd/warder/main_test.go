package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.image != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := shared.builder.RemoveImage(ctx, shared.image); err != nil {
			slog.Error("removing test image", "image", shared.image, "err", err)
		}
		cancel()
	}
	if shared.binary != "" {
		os.RemoveAll(strings.TrimSuffix(shared.binary, "/warder-agent"))
	}
	testenv.StopPostgres()
	os.Exit(code)
}
