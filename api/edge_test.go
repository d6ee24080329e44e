package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/metrics"
)

// edgeAgents answers the calls the edge tests make: creating is slow (to
// show a slow handler is not cut by the body's deadline), logs say which
// times they were asked for.
type edgeAgents struct {
	AgentService
	ObserveService
	slow time.Duration
}

func (e edgeAgents) CreateAgent(ctx context.Context, _ *warder.User, req warder.AgentCreate) (*warder.Agent, error) {
	select {
	case <-time.After(e.slow):
	case <-ctx.Done():
		return nil, fmt.Errorf("the request was cancelled while the handler worked: %w", ctx.Err())
	}
	return &warder.Agent{Name: req.Name}, nil
}

func (edgeAgents) AgentLogs(_ context.Context, _ *warder.User, _ string, o warder.LogOptions) (string, error) {
	return "since " + o.Since.Format(time.RFC3339), nil
}

// edgeChat points the proxy at one upstream for every agent.
type edgeChat struct {
	ChatService
	upstream *url.URL
}

func (c edgeChat) AgentEndpoint(context.Context, *warder.User, string) (*url.URL, error) {
	return c.upstream, nil
}

// edgeAudit answers the audit log with nothing.
type edgeAudit struct{ AuditService }

func (edgeAudit) AuditLog(context.Context, *warder.User, warder.AuditQuery) ([]*warder.AuditEntry, error) {
	return nil, nil
}

// syncLog is a log destination safe for a server and a test at once.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newEdgeServer is a Server on a real listener, logging at debug level
// into the returned log.
func newEdgeServer(t *testing.T, o Options) (*httptest.Server, *syncLog) {
	t.Helper()
	logs := &syncLog{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Auth == nil {
		o.Auth = fuzzAuth{}
	}
	ts := httptest.NewServer(New(o))
	t.Cleanup(ts.Close)
	return ts, logs
}

// endless is a JSON object whose one string never ends: n bytes of it,
// counted as they are read.
type endless struct {
	n, read int64
}

func (e *endless) Read(p []byte) (int, error) {
	read := atomic.LoadInt64(&e.read)
	if read >= e.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n-read)
	for i := range p[:k] {
		switch read + int64(i) {
		case 0:
			p[i] = '{'
		case 1:
			p[i] = '"'
		default:
			p[i] = 'a'
		}
	}
	atomic.AddInt64(&e.read, k)
	return int(k), nil
}

func detailIn(t *testing.T, body []byte) string {
	t.Helper()
	var d struct{ Detail *string }
	if err := json.Unmarshal(body, &d); err != nil || d.Detail == nil {
		t.Fatalf("body %.200q has no {\"detail\"}", body)
	}
	return *d.Detail
}

// TestBodyCapFollowsRoute: the 1 MiB cap is decided by the route the mux
// matches, not by the decoded path: /api/agents/x%2Fproxy%2Fy is PUT
// /api/agents/{id} and is capped; the real proxy route is not.
func TestBodyCapFollowsRoute(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	ts, _ := newEdgeServer(t, Options{Agents: edgeAgents{}, Chat: edgeChat{upstream: u}})

	body := &endless{n: 64 << 20}
	req, _ := http.NewRequest("PUT", ts.URL+"/api/agents/x%2Fproxy%2Fy", body)
	req.Header.Set("Authorization", "Bearer t")
	req.ContentLength = body.n
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(detailIn(t, raw), "larger than 1048576 bytes") {
		t.Fatalf("PUT /api/agents/x%%2Fproxy%%2Fy with 64 MiB = %d %s", resp.StatusCode, raw)
	}
	if n := atomic.LoadInt64(&body.read); n > 16<<20 {
		t.Fatalf("the client sent %d bytes before the answer: the server read on past the cap", n)
	}

	// The proxy route itself carries a body past the cap whole.
	big := strings.Repeat("x", 3<<20)
	req, _ = http.NewRequest("POST", ts.URL+"/api/agents/a1/proxy/upload", strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer t")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Load() != int64(len(big)) {
		t.Fatalf("3 MiB through the proxy = %d, %d bytes arrived", resp.StatusCode, got.Load())
	}
}

// TestSlowBodyCutOff: a body sent a byte at a time is cut off once the
// body timeout passes; a body sent at once leaves its handler all the
// time it needs, and the connection serves the next request.
func TestSlowBodyCutOff(t *testing.T) {
	const bound = 300 * time.Millisecond
	ts, _ := newEdgeServer(t, Options{Agents: edgeAgents{slow: 3 * bound}, BodyTimeout: bound})
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /api/auth/login HTTP/1.1\r\nHost: warder\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("reading the answer: %v", err)
		}
		answered <- resp
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case resp := <-answered:
			took := time.Since(start)
			if resp == nil {
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || !strings.Contains(detailIn(t, raw), "did not arrive in time") {
				t.Fatalf("slow body = %d %s", resp.StatusCode, raw)
			}
			if took > bound+2*time.Second {
				t.Fatalf("a slow body held the connection %s; the bound is %s", took, bound)
			}
			slowHandler(t, ts.URL, bound)
			return
		case <-tick.C:
			if time.Since(start) > 10*time.Second {
				t.Fatal("a body sent a byte at a time was never cut off")
			}
			conn.Write([]byte(" "))
		}
	}
}

// slowHandler: a handler that takes 3 bounds after its body arrived at
// once is not cancelled, and its keep-alive connection serves again.
func slowHandler(t *testing.T, base string, bound time.Duration) {
	t.Helper()
	for i := range 2 {
		req, _ := http.NewRequest("POST", base+"/api/agents", strings.NewReader(`{"name": "slow"}`))
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("request %d to a handler slower than the body bound = %d %s", i, resp.StatusCode, raw)
		}
	}
}

// TestMetricLabelsBounded: requests with made-up methods, to made-up
// paths, add a bounded number of series to /metrics.
func TestMetricLabelsBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	ts, _ := newEdgeServer(t, Options{Metrics: m.Handler(), Observer: m})
	for i := range 200 {
		req, _ := http.NewRequest(fmt.Sprintf("M%d", i), fmt.Sprintf("%s/nowhere/%d", ts.URL, i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var series []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "warder_http_requests_total{") || strings.HasPrefix(l, "warder_http_request_duration_seconds_count{") {
			series = append(series, l)
		}
	}
	if len(series) == 0 || len(series) > 4 {
		t.Fatalf("200 requests with made-up methods made %d series:\n%s", len(series), strings.Join(series, "\n"))
	}
	if !strings.Contains(string(raw), `warder_http_requests_total{method="other",route="/",status="404"} 200`) {
		t.Fatalf("made-up methods are not counted as \"other\":\n%s", strings.Join(series, "\n"))
	}
}

// TestHugePathNotEchoed: a 1 MB path is neither answered nor logged in
// full.
func TestHugePathNotEchoed(t *testing.T) {
	t.Parallel()
	ts, logs := newEdgeServer(t, Options{Agents: edgeAgents{}})
	long := "/api/" + strings.Repeat("a", 1<<20)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", long, 404},
		{"DELETE", "/api/agents" + strings.Repeat("/x", 1<<19), 404},
		{"BREW", "/api/agents", 405},
		{strings.Repeat("M", 10000), "/healthz", 405},
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := detailIn(t, raw)
		if resp.StatusCode != tt.status || len(d) > 2*maxEchoed+100 {
			t.Fatalf("%.20s %.40s… = %d with a detail of %d bytes", tt.method, tt.path, resp.StatusCode, len(d))
		}
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if len(l) > 2*maxEchoed+300 {
			t.Fatalf("a log line of %d bytes: %.300s…", len(l), l)
		}
	}
	if !strings.Contains(logs.String(), "aaaa…") {
		t.Fatalf("the long path is not logged cut:\n%.2000s", logs.String())
	}
}

// TestProxyUntrustedAnswer: the caller's Cookie and Authorization do
// not reach the agent; the agent's cookies, CORS headers and other
// origin-wide headers do not reach the caller, and its answer comes
// sandboxed and unsniffed.
func TestProxyUntrustedAnswer(t *testing.T) {
	t.Parallel()
	var seen http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		h := w.Header()
		h.Set("Set-Cookie", "session=stolen; Path=/")
		h.Add("Set-Cookie", "other=1")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "X-Request-ID")
		h.Set("Clear-Site-Data", `"*"`)
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("Service-Worker-Allowed", "/")
		h.Set("Content-Security-Policy", "default-src 'self'")
		h.Set("X-Content-Type-Options", "whatever")
		h.Set("X-Agent", "kept")
		h.Set("Content-Type", "text/html")
		fmt.Fprint(w, "<script>alert(localStorage.token)</script>")
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	ts, _ := newEdgeServer(t, Options{Chat: edgeChat{upstream: u}})

	req, _ := http.NewRequest("GET", ts.URL+"/api/agents/a1/proxy/page", nil)
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Cookie", "warder_session=secret")
	req.Header.Set("X-Caller", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("proxy = %d", resp.StatusCode)
	}
	if seen.Get("Cookie") != "" || seen.Get("Authorization") != "" || seen.Get("X-Caller") != "kept" {
		t.Fatalf("headers the agent got: %v", seen)
	}
	for name := range resp.Header {
		switch l := strings.ToLower(name); {
		case strings.HasPrefix(l, "access-control-"), l == "set-cookie", l == "clear-site-data",
			l == "strict-transport-security", l == "service-worker-allowed":
			t.Errorf("the agent's %s reached the caller: %q", name, resp.Header.Values(name))
		}
	}
	if got := resp.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := resp.Header.Values("Content-Security-Policy"); len(got) != 2 || got[1] != "sandbox" {
		t.Errorf("Content-Security-Policy = %q, want the agent's and sandbox", got)
	}
	if resp.Header.Get("X-Agent") != "kept" {
		t.Errorf("the agent's own header was dropped: %v", resp.Header)
	}
}

// TestTimeParamsBounded: a time before 1970 or after 9999, however
// written, is a 400 that says so, for logs and the audit log alike.
func TestTimeParamsBounded(t *testing.T) {
	t.Parallel()
	ts, _ := newEdgeServer(t, Options{Agents: edgeAgents{}, Observe: edgeAgents{}, Audit: edgeAudit{}})
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	logs := "/api/agents/0b6f0a3e-8c55-4a53-9b1b-6f7f5f2a1c11/logs"
	for _, path := range []string{
		logs + "?since=500000h",
		logs + "?since=1969-12-31T23:59:59Z",
		logs + "?since=0000-01-01T00:00:00%2B01:00",
		logs + "?since=999999999999999",
		"/api/audit?since=500000h",
		"/api/audit?until=2562047h",
		"/api/audit?until=99999999999999",
	} {
		status, raw := get(path)
		if status != 400 || !strings.Contains(detailIn(t, raw), "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z") {
			t.Errorf("GET %s = %d %s", path, status, raw)
		}
	}
	for _, path := range []string{logs + "?since=0", logs + "?since=10m", "/api/audit?since=1970-01-01T00:00:00Z&until=9999-12-31T23:59:59Z"} {
		if status, raw := get(path); status != 200 {
			t.Errorf("GET %s = %d %s", path, status, raw)
		}
	}
}
