package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// upstreamError is a failure of the model API, worded for the user: /chat
// answers it as 502 {"detail": ...}. It never holds the API key.
type upstreamError struct{ msg string }

func (e *upstreamError) Error() string { return e.msg }

// clientError is a failure to pass a piece on to our own caller, who has
// most likely gone away; it is not the model API's fault.
type clientError struct{ err error }

func (e *clientError) Error() string { return "writing the answer: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// errSilent cancels a request whose model API stayed silent too long.
var errSilent = errors.New("model API silent for too long")

// failure words an error of the request or its body for the user.
func (c *llmClient) failure(ctx context.Context, err error) error {
	var ue *upstreamError
	var ce *clientError
	switch {
	case errors.As(err, &ue), errors.As(err, &ce):
		return err
	case errors.Is(context.Cause(ctx), errSilent), isTimeout(err):
		return &upstreamError{fmt.Sprintf("the model API did not answer within %s (%s)", c.timeout, envTimeout)}
	case ctx.Err() != nil:
		return ctx.Err() // the caller went away: no one to tell
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // without the URL, which may hold user info
	}
	return &upstreamError{fmt.Sprintf("cannot reach the model API at %s: %s", c.where(), c.redact(err.Error()))}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isReadError tells a broken connection from a body that is not JSON.
func isReadError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return !errors.As(err, &syn) && !errors.As(err, &typ) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)
}

// statusError words a non-200 answer. The body of a refused key is not
// shown at all: some servers echo the key they were given.
func (c *llmClient) statusError(code int, h http.Header, body io.Reader) error {
	raw, _ := io.ReadAll(io.LimitReader(body, maxErrorBodyBytes))
	msg := c.bodyText(raw)
	with := func(s string) string {
		if msg == "" {
			return s
		}
		return s + ": " + msg
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &upstreamError{fmt.Sprintf("the model API rejected %s (HTTP %d)", envAPIKey, code)}
	case code == http.StatusTooManyRequests:
		s := "the model API is rate limiting this key or it is out of quota (HTTP 429)"
		if ra := h.Get("Retry-After"); ra != "" && len(ra) < 40 {
			s += "; retry after " + ra + "s"
		}
		return &upstreamError{with(s)}
	case code == http.StatusNotFound:
		return &upstreamError{with(fmt.Sprintf("the model API knows no model %q at %s, or %s is wrong (HTTP 404)", c.cfg.Model, c.where(), envBaseURL))}
	case code == http.StatusRequestTimeout || code == http.StatusGatewayTimeout:
		return &upstreamError{with(fmt.Sprintf("the model API timed out (HTTP %d)", code))}
	case code >= 500:
		return &upstreamError{with(fmt.Sprintf("the model API failed (HTTP %d)", code))}
	}
	return &upstreamError{with(fmt.Sprintf("the model API refused the request (HTTP %d)", code))}
}

// bodyText is the short message of an error body: OpenAI's
// {"error": {"message": ...}}, {"error": "..."}, or the text itself.
func (c *llmClient) bodyText(raw []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && len(e.Error) > 0 {
		return c.errorText(e.Error)
	}
	if json.Valid(raw) {
		return ""
	}
	return c.clip(string(raw))
}

// errorText is the message of an "error" value, object or string.
func (c *llmClient) errorText(raw json.RawMessage) string {
	var obj struct{ Message string }
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return c.clip(obj.Message)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return c.clip(s)
	}
	return c.clip(string(raw))
}

// clip makes upstream text fit for a one-line detail: the key redacted,
// control characters dropped, at most 300 bytes.
func (c *llmClient) clip(s string) string {
	s = strings.Join(strings.Fields(c.redact(s)), " ")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "..."
	}
	return s
}

// redact removes the API key from text that came from elsewhere.
func (c *llmClient) redact(s string) string {
	if c.key == "" {
		return s
	}
	return strings.ReplaceAll(s, c.key, "[redacted]")
}
