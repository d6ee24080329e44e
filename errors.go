package warder

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel error kinds. Every error that should reach an API caller as
// something other than "internal error" wraps exactly one of these, so the
// HTTP layer can pick a status with errors.Is and never has to read text.
var (
	ErrInvalid      = errors.New("invalid input")     // 400/422: the request itself is wrong
	ErrUnauthorized = errors.New("unauthorized")      // 401: no or bad credentials
	ErrForbidden    = errors.New("forbidden")         // 403: authenticated but not allowed
	ErrNotFound     = errors.New("not found")         // 404: absent, or not the caller's
	ErrConflict     = errors.New("conflict")          // 409: clashes with existing state
	ErrTooLarge     = errors.New("request too large") // 413: body over the cap
	ErrUnavailable  = errors.New("unavailable")       // 503: Docker or the database is down
	ErrBadGateway   = errors.New("bad gateway")       // 502: an agent, or the model behind it, failed
	ErrRateLimited  = errors.New("too many requests") // 429: slow down; see RateLimitError
	ErrNotSupported = errors.New("not supported")     // 501: the runtime lacks an optional capability
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

// kindStatuses maps error kinds to the HTTP statuses the API answers them
// with, in the order they are tried.
var kindStatuses = []struct {
	kind   error
	status int
}{
	{ErrInvalid, 400},
	{ErrUnauthorized, 401},
	{ErrForbidden, 403},
	{ErrNotFound, 404},
	{ErrConflict, 409},
	{ErrTooLarge, 413},
	{ErrUnavailable, 503},
	{ErrBadGateway, 502},
	{ErrRateLimited, 429},
	{ErrNotSupported, 501},
}

// HTTPStatus is the HTTP status the API answers err with and the kind
// that decides it; an error of no kind is 500 with a nil kind.
func HTTPStatus(err error) (status int, kind error) {
	for _, ks := range kindStatuses {
		if errors.Is(err, ks.kind) {
			return ks.status, ks.kind
		}
	}
	return 500, nil
}
