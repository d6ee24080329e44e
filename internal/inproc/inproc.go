// Package inproc serves HTTP requests with a handler in this process, as
// a RoundTripper: the MCP server and the OpenSandbox API call Warder's own
// API this way, so their calls pass through everything an HTTP call does.
package inproc

import (
	"context"
	"io"
	"net/http"
	"sync"
)

// Transport is an http.RoundTripper that serves each request with
// a handler in this process, as a server would: no socket, no listen
// address, the answer streamed through a pipe as the handler writes it.
// The server's MCP tools reach its own API this way, so their calls pass
// through everything an HTTP call does (routing, authentication, body
// bounds, read-only keys, audit, metrics) and are cut when the caller's
// request ends.
type Transport struct{ Handler http.Handler }

// RoundTrip runs the handler on its own goroutine and returns once it has
// sent its status; the body is what it writes, until it returns. Closing
// the body cancels the handler's context.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	r := req.Clone(ctx)
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = "in-process:0"
	r.Host = "warder.internal"
	if r.Body == nil {
		r.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, sent: make(chan struct{})}
	go func() {
		defer cancel() // the body's reader sees the handler's end as EOF
		defer pw.Close()
		defer w.writeHeader(http.StatusOK) // a handler that wrote nothing
		t.Handler.ServeHTTP(w, r)
	}()
	select {
	case <-w.sent:
	case <-ctx.Done():
		cancel()
		pr.Close()
		return nil, ctx.Err()
	}
	return &http.Response{
		Status: http.StatusText(w.status), StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sentHeader, Body: &cancelBody{ReadCloser: pr, cancel: cancel}, ContentLength: -1, Request: req,
	}, nil
}

// pipeWriter is the handler's http.ResponseWriter: headers sent once,
// the body into the pipe.
type pipeWriter struct {
	header     http.Header
	sentHeader http.Header
	pw         *io.PipeWriter
	once       sync.Once
	status     int
	sent       chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	if status >= 100 && status < 200 {
		return // informational answers are not passed on
	}
	w.writeHeader(status)
}

func (w *pipeWriter) writeHeader(status int) {
	w.once.Do(func() {
		w.status, w.sentHeader = status, w.header.Clone()
		close(w.sent)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.writeHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush is a no-op: every Write reaches the reader at once.
func (w *pipeWriter) Flush() { w.writeHeader(http.StatusOK) }

// cancelBody ends the handler's request when the caller closes the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}
