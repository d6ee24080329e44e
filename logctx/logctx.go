// Package logctx carries a request's id through its context into every
// log line the request causes, wherever in Warder that line is written.
//
// The conventions keep configuration out of context.Value; a request id
// for logging is the one exception, and the standard one: it is what the
// context is for (request-scoped values crossing API boundaries), and the
// alternative, passing a request-scoped logger down through every service
// and store call, would change every signature for a log attribute. Code
// that logs within a request uses the *Context methods of slog.Logger.
package logctx

import (
	"context"
	"log/slog"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Handler adds request_id to every record logged with a context that
// carries one.
type Handler struct{ slog.Handler }

// NewHandler wraps h; a handler already wrapped is returned as it is.
func NewHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*Handler); ok {
		return h
	}
	return &Handler{h}
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{h.Handler.WithGroup(name)}
}
