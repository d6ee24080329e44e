package llmgateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/sqlstore"
)

func TestGatewayChat(t *testing.T) {
	g := newGW(t, Budget{}, Budget{}, nil)
	status, body, hdr := g.post(t, "t1", "/v1/chat/completions", `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 || !strings.Contains(body, `"content":"hi there"`) {
		t.Fatalf("chat: %d %s", status, body)
	}
	if strings.Contains(body, upstreamKey) || strings.Contains(fmt.Sprint(hdr), upstreamKey) {
		t.Error("the upstream key reached the caller")
	}
	u := g.ledger.Usages()
	if len(u) != 1 || u[0] != (Usage{Caller: Caller{"a1", "u1"}, Upstream: "fake", Route: "chat/completions", Model: "gpt-test-0613", PromptTokens: 10, CompletionTokens: 5, At: u[0].At}) {
		t.Errorf("usage: %+v", u)
	}
	for _, tc := range []struct{ path, body string }{
		{"/v1/completions", `{"model":"gpt-test","prompt":"hi"}`},
		{"/v1/embeddings", `{"model":"gpt-test","input":"hi","stream":true}`}, // embeddings never stream
	} {
		if status, body, _ := g.post(t, "t1", tc.path, tc.body); status != 200 {
			t.Errorf("%s: %d %s", tc.path, status, body)
		}
	}
	if n := len(g.ledger.Usages()); n != 3 {
		t.Errorf("%d usages recorded, want 3", n)
	}
	if st := g.gateway.Stats(); st.PromptTokens != 30 || st.CompletionTokens != 15 || st.Requests != 3 {
		t.Errorf("stats: %+v", st)
	}
	// Models: authenticated, passed through, not metered.
	req, _ := http.NewRequest("GET", g.srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer t1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "gpt-test") {
		t.Errorf("models: %d %s", resp.StatusCode, b)
	}
	if n := len(g.ledger.Usages()); n != 3 {
		t.Errorf("models was metered")
	}
}

func TestGatewayRefusals(t *testing.T) {
	g := newGW(t, Budget{}, Budget{}, func(c *Config) { c.MaxRequestBytes = 1 << 10 })
	for _, tc := range []struct {
		token, body string
		status      int
		detail      string
	}{
		{"", `{"model":"gpt-test"}`, 401, "a gateway token is required"},
		{"nope", `{"model":"gpt-test"}`, 401, "not valid"},
		{"t1", `[1,2]`, 400, "not a JSON object"},
		{"t1", `{"messages":[]}`, 400, `"model" is required`},
		{"t1", `{"model":"gpt-test","stream":true,"stream_options":3}`, 400, "stream_options"},
		{"t1", `{"model":"gpt-test","x":"` + strings.Repeat("a", 2<<10) + `"}`, 413, "over 1024 bytes"},
	} {
		status, body, _ := g.post(t, tc.token, "/v1/chat/completions", tc.body)
		var e struct {
			Detail string
			Error  struct{ Message string }
		}
		_ = json.Unmarshal([]byte(body), &e)
		if status != tc.status || !strings.Contains(e.Detail, tc.detail) || e.Error.Message != e.Detail {
			t.Errorf("%s %.40s: %d %s, want %d with %q", tc.token, tc.body, status, body, tc.status, tc.detail)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{{"GET", "/v1/chat/completions", 405}, {"DELETE", "/v1/models", 405}, {"POST", "/v1/files", 404}, {"GET", "/", 404}} {
		req, _ := http.NewRequest(tc.method, g.srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer t1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Detail string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || e.Detail == "" {
			t.Errorf("%s %s: %d %q, want %d with a detail", tc.method, tc.path, resp.StatusCode, e.Detail, tc.status)
		}
	}
	if n := g.up.calls.Load(); n != 0 {
		t.Errorf("the upstream was called %d times", n)
	}
	if st := g.gateway.Stats(); st.Unauthorized != 2 || st.Refused != 2 {
		t.Errorf("stats: %+v", st)
	}
}

// readStream posts a streamed chat and returns the lines of data.
func readStream(t *testing.T, g *gw, token, body string) []string {
	t.Helper()
	status, out, hdr := g.post(t, token, "/v1/chat/completions", body)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", status, out)
	}
	var data []string
	for _, l := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			data = append(data, d)
		}
	}
	return data
}

func TestGatewayStream(t *testing.T) {
	g := newGW(t, Budget{}, Budget{}, nil)
	// A caller that did not ask for usage: the gateway asks, meters, and
	// keeps the usage chunk from the caller.
	data := readStream(t, g, "t1", `{"model":"gpt-test","stream":true,"messages":[]}`)
	if len(data) != 4 || data[3] != "[DONE]" || strings.Contains(strings.Join(data, ""), `"usage":{`) {
		t.Errorf("stream seen by the caller: %q", data)
	}
	if opts, _ := g.up.lastBody()["stream_options"].(map[string]any); opts["include_usage"] != true {
		t.Errorf("the upstream was not asked for usage: %v", g.up.lastBody())
	}
	// A caller that asked for it gets it, its own options kept.
	data = readStream(t, g, "t2", `{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	if len(data) != 5 || !strings.Contains(data[3], `"prompt_tokens":10`) {
		t.Errorf("stream with usage asked: %q", data)
	}
	u := g.ledger.Usages()
	if len(u) != 2 || u[0].Agent != "a1" || u[1].Agent != "a2" || u[0].PromptTokens != 10 || u[0].CompletionTokens != 5 || u[0].Model != "gpt-test-0613" {
		t.Errorf("usage: %+v", u)
	}
	// Passed through as it comes: the first chunk arrives while the
	// upstream still holds the rest.
	g.up.release = make(chan struct{})
	req, _ := http.NewRequest("POST", g.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-test","stream":true}`))
	req.Header.Set("Authorization", "Bearer t1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, `"hi"`) {
		t.Fatalf("first chunk: %q %v", line, err)
	}
	close(g.up.release)
	rest, _ := io.ReadAll(br)
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("rest of the stream: %q", rest)
	}
}

func TestGatewayBudget(t *testing.T) {
	testBudget(t, newGW(t, Budget{PerDay: 20}, Budget{PerMonth: 40}, nil))
}

// TestGatewayBudgetInStore: the store's ledger (on SQLite) answers as
// MemLedger does.
func TestGatewayBudgetInStore(t *testing.T) {
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "warder.db"), sqlstore.SyncNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	budgets := func(context.Context, Caller) (Budget, Budget, error) {
		return Budget{PerDay: 20}, Budget{PerMonth: 40}, nil
	}
	testBudget(t, newGW(t, Budget{}, Budget{}, func(c *Config) { c.Ledger = &StoreLedger{Store: db, Budgets: budgets} }))
	if got, err := db.LLMTotals(context.Background(), "a1", "u1", time.Now()); err != nil || got.AgentDay != 30 || got.UserMonth != 45 {
		t.Errorf("the store's totals: %+v %v", got, err)
	}
}

// testBudget: a1's daily budget is 20, u1's monthly 40; each request
// costs 15 tokens.
func testBudget(t *testing.T, g *gw) {
	chat := `{"model":"gpt-test","messages":[]}`
	for i := range 2 { // 15 tokens each: the second starts under 20 and ends over it
		if status, body, _ := g.post(t, "t1", "/v1/chat/completions", chat); status != 200 {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	status, body, hdr := g.post(t, "t1", "/v1/chat/completions", chat)
	if status != 429 || !strings.Contains(body, "this agent's daily token budget is spent (30 of 20 tokens)") || hdr.Get("Retry-After") == "" {
		t.Errorf("over the agent's budget: %d %s (Retry-After %q)", status, body, hdr.Get("Retry-After"))
	}
	calls := g.up.calls.Load()
	// A stream that crosses a budget finishes; the next request is
	// refused. User u1 is at 30 of its 40 (a1's): a2's stream starts.
	data := readStream(t, g, "t2", `{"model":"gpt-test","stream":true}`)
	if data[len(data)-1] != "[DONE]" {
		t.Errorf("a2's stream: %q", data)
	}
	status, body, _ = g.post(t, "t2", "/v1/chat/completions", `{"model":"gpt-test","stream":true}`)
	if status != 429 || !strings.Contains(body, "this user's monthly token budget is spent (45 of 40 tokens)") {
		t.Errorf("over the user's budget: %d %s", status, body)
	}
	if g.up.calls.Load() != calls+1 {
		t.Errorf("refused requests reached the upstream")
	}
	// Another user's agent is not held back.
	if status, _, _ := g.post(t, "t3", "/v1/chat/completions", chat); status != 200 {
		t.Errorf("another user's agent: %d", status)
	}
	if st := g.gateway.Stats(); st.OverBudget != 2 {
		t.Errorf("stats: %+v", st)
	}
}

func TestGatewayUpstreamBounds(t *testing.T) {
	g := newGW(t, Budget{}, Budget{}, func(c *Config) {
		c.HeaderTimeout = 300 * time.Millisecond
		c.IdleTimeout = 300 * time.Millisecond
		c.MaxResponseBytes = 1 << 20
		c.MaxStreamBytes = 1 << 20
	})
	start := time.Now()
	status, body, _ := g.post(t, "t1", "/v1/chat/completions", `{"model":"hang"}`)
	if status != 502 || !strings.Contains(body, "did not answer within 300ms") || time.Since(start) > 10*time.Second {
		t.Errorf("hanging upstream: %d %s after %v", status, body, time.Since(start))
	}
	status, body, _ = g.post(t, "t1", "/v1/chat/completions", `{"model":"flood"}`)
	if status != 502 || !strings.Contains(body, "answer is over 1048576 bytes; it was cut off") {
		t.Errorf("flooding upstream: %d %.200s", status, body)
	}
	data := readStream(t, g, "t1", `{"model":"flood","stream":true}`)
	if last := data[len(data)-1]; !strings.Contains(last, "stream is over 1048576 bytes; it was cut off") {
		t.Errorf("flooding stream ends with %.200s", last)
	}
	data = readStream(t, g, "t1", `{"model":"hang-mid","stream":true}`)
	if len(data) != 2 || !strings.Contains(data[1], "sent nothing for 300ms; its answer was cut off") {
		t.Errorf("a stream that stops: %q", data)
	}
	status, body, _ = g.post(t, "t1", "/v1/chat/completions", `{"model":"fail"}`)
	if status != 500 || strings.Contains(body, upstreamKey) || !strings.Contains(body, "[redacted]") {
		t.Errorf("failing upstream: %d %s", status, body)
	}
	before := g.gateway.Stats().Unmetered
	if status, _, _ := g.post(t, "t1", "/v1/chat/completions", `{"model":"nousage"}`); status != 200 || g.gateway.Stats().Unmetered != before+1 {
		t.Errorf("an answer without usage: %d, %+v", status, g.gateway.Stats())
	}
	if n := g.gateway.Stats().UpstreamFailed; n != 4 {
		t.Errorf("upstream failures: %d, want 4", n)
	}

	// An upstream nobody listens at.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	g2 := newGW(t, Budget{}, Budget{}, func(c *Config) { c.Upstreams[0].BaseURL = "http://" + dead + "/v1" })
	if status, body, _ := g2.post(t, "t1", "/v1/chat/completions", `{"model":"gpt-test"}`); status != 502 || !strings.Contains(body, "could not be reached") {
		t.Errorf("unreachable upstream: %d %s", status, body)
	}
}

func TestGatewayRoutesByModel(t *testing.T) {
	other := newFakeUpstream(t, "sk-other-key-abcdefgh")
	g := newGW(t, Budget{}, Budget{}, func(c *Config) {
		c.Upstreams = append(c.Upstreams, Upstream{Name: "other", BaseURL: other.URL + "/v1", Key: "sk-other-key-abcdefgh", Models: []string{"local-llama"}})
	})
	if status, body, _ := g.post(t, "t1", "/v1/chat/completions", `{"model":"local-llama"}`); status != 200 {
		t.Fatalf("routed model: %d %s", status, body)
	}
	if status, body, _ := g.post(t, "t1", "/v1/chat/completions", `{"model":"gpt-test"}`); status != 200 {
		t.Fatalf("default model: %d %s", status, body)
	}
	if other.calls.Load() != 1 || g.up.calls.Load() != 1 {
		t.Errorf("calls: other %d, default %d", other.calls.Load(), g.up.calls.Load())
	}
	if u := g.ledger.Usages(); len(u) != 2 || u[0].Upstream != "other" || u[1].Upstream != "fake" {
		t.Errorf("usage: %+v", u)
	}
	if _, err := New(Config{Upstreams: []Upstream{{Name: "x", BaseURL: "ftp://x"}}, Tokens: tokens{}, Ledger: g.ledger}); err == nil {
		t.Error("a non-HTTP base URL was accepted")
	}
}

func TestHasUsage(t *testing.T) {
	for in, want := range map[string]bool{
		`{"usage":null}`:                  false,
		`{"usage": null}`:                 false,
		`{"choices":[]}`:                  false,
		`{"usage":{"prompt_tokens":1}}`:   true,
		`{"usage" : {"prompt_tokens":1}}`: true,
	} {
		if got := hasUsage([]byte(in)); got != want {
			t.Errorf("hasUsage(%s) = %v", in, got)
		}
	}
}
