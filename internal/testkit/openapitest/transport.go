package openapitest

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Transport checks every request that passes through it (a JSON body
// against the operation's requestBody) and every answer against the
// document: whole bodies when they arrive, streams event by event as the
// caller reads them. It keeps what it found wrong and which operations it
// saw answered.
type Transport struct {
	Doc  *Doc
	Base http.RoundTripper // nil: http.DefaultTransport

	mu       sync.Mutex
	problems []string
	seen     map[string]bool
}

func (t *Transport) note(err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.problems = append(t.problems, err.Error())
}

// Problems is every mismatch found so far.
func (t *Transport) Problems() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.problems...)
}

// Seen lists the operations ("GET /api/agents/{id}") answered so far, and
// their statuses, sorted: "GET /api/agents/{id} 200".
func (t *Transport) Seen() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k := range t.seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RoundTrip sends the request and checks its answer.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	method, path := req.Method, req.URL.Path
	if req.Body != nil && req.Body != http.NoBody && req.GetBody != nil && !strings.Contains(path, "/proxy/") {
		if b, err := req.GetBody(); err == nil {
			body, _ := io.ReadAll(b)
			b.Close()
			t.note(t.Doc.CheckRequest(method, path, req.Header.Get("Content-Type"), body))
		}
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	t.mu.Lock()
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	if op := t.Doc.Operation(method, path); op != "" {
		t.seen[op+" "+strconv.Itoa(resp.StatusCode)] = true
	}
	t.mu.Unlock()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "text/event-stream" && resp.StatusCode == http.StatusOK {
		resp.Body = &eventChecker{ReadCloser: resp.Body, check: func(name string, data []byte) {
			t.note(t.Doc.CheckEvent(method, path, name, data))
		}}
		t.note(t.Doc.CheckBody(method, path, resp.StatusCode, resp.Header.Get("Content-Type"), nil))
		return resp, nil
	}
	if strings.HasPrefix(mt, "text/") && resp.StatusCode == http.StatusOK {
		t.note(t.Doc.CheckBody(method, path, resp.StatusCode, resp.Header.Get("Content-Type"), nil))
		return resp, nil // a plain text stream: nothing more to check
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.note(t.Doc.CheckBody(method, path, resp.StatusCode, resp.Header.Get("Content-Type"), body))
	return resp, nil
}

// eventChecker reads Server-Sent Events as they pass to the caller.
type eventChecker struct {
	io.ReadCloser
	check   func(name string, data []byte)
	pending bytes.Buffer
	name    string
	data    []byte
}

func (e *eventChecker) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	e.pending.Write(p[:n])
	for {
		line, rerr := e.pending.ReadString('\n')
		if rerr != nil { // no whole line yet
			e.pending.Reset()
			e.pending.WriteString(line)
			break
		}
		e.line(strings.TrimSuffix(line, "\n"))
	}
	return n, err
}

func (e *eventChecker) line(line string) {
	switch {
	case line == "":
		if e.data != nil {
			e.check(e.name, e.data)
		}
		e.name, e.data = "", nil
	case strings.HasPrefix(line, "event:"):
		e.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
	case strings.HasPrefix(line, "data:"):
		e.data = append(e.data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
	}
}
