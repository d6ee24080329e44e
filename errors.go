package warder

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel error kinds. Every error that should reach an API caller as
// something other than "internal error" wraps exactly one of these, so the
// HTTP layer (package api, which alone knows statuses) can pick a status
// with errors.Is and never has to read text.
var (
	ErrInvalid      = errors.New("invalid input")     // the request itself is wrong
	ErrUnauthorized = errors.New("unauthorized")      // no or bad credentials
	ErrForbidden    = errors.New("forbidden")         // authenticated but not allowed
	ErrNotFound     = errors.New("not found")         // absent, or not the caller's
	ErrConflict     = errors.New("conflict")          // clashes with existing state
	ErrTooLarge     = errors.New("request too large") // body over the cap
	ErrUnavailable  = errors.New("unavailable")       // the runtime or the database is down
	ErrBadGateway   = errors.New("bad gateway")       // an agent, or the model behind it, failed
	ErrRateLimited  = errors.New("too many requests") // slow down; see RateLimitError
	ErrNotSupported = errors.New("not supported")     // the runtime lacks an optional capability
)

// RateLimitError is ErrRateLimited with when to try again.
type RateLimitError struct {
	Msg        string
	RetryAfter time.Duration
}

// Error returns the caller-facing message.
func (e *RateLimitError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// Error is an error whose message is safe to show to an API caller. Kind is
// one of the sentinels above; Msg is the human-readable detail.
type Error struct {
	Kind error
	Msg  string
}

// Error returns the caller-facing message.
func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

// Errorf builds an *Error of the given kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// ErrorMessage returns the caller-facing message of err, or "" when err
// carries none (an internal error whose text must not leak).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.Msg
	}
	return ""
}
