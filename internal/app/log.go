package app

import (
	"log/slog"
	"os"

	"github.com/warder/warder/logctx"
)

// NewLogger is the logger cfg asks for (WARDER_LOG_LEVEL, WARDER_LOG_FORMAT),
// writing to standard error.
func NewLogger(cfg Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	// Lines logged within a request carry its id (see package logctx).
	if cfg.LogFormat == "json" {
		return slog.New(logctx.NewHandler(slog.NewJSONHandler(os.Stderr, opts)))
	}
	return slog.New(logctx.NewHandler(slog.NewTextHandler(os.Stderr, opts)))
}
