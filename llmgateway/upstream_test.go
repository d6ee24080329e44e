package llmgateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/warder/warder"
)

// fakeUpstream is a stand-in model provider on loopback speaking the
// OpenAI wire format. Its behaviour is chosen by the request's model:
//
//	any other  a normal answer (stream or not), 10 prompt and 5 completion tokens
//	hang       no answer at all until the request ends
//	hang-mid   a stream that sends one chunk, then nothing
//	flood      an endless body (stream or not)
//	fail       a 500 whose message echoes the key
//	nousage    a normal answer without usage
type fakeUpstream struct {
	*httptest.Server
	key     string
	calls   atomic.Int64
	mu      sync.Mutex
	bodies  []map[string]any
	release chan struct{} // if set, a stream waits on it after its first chunk
}

func newFakeUpstream(t testing.TB, key string) *fakeUpstream {
	f := &fakeUpstream{key: key}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeUpstream) lastBody() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+f.key {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"gpt-test","object":"model"}]}`)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(400)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	model, _ := body["model"].(string)
	stream, _ := body["stream"].(bool)
	stream = stream && !strings.HasSuffix(r.URL.Path, "/embeddings")
	opts, _ := body["stream_options"].(map[string]any)
	withUsage, _ := opts["include_usage"].(bool)
	switch model {
	case "hang":
		<-r.Context().Done()
		return
	case "fail":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		fmt.Fprintf(w, `{"error":{"message":"upstream broke; key was %s"}}`, f.key)
		return
	case "flood":
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		chunk := []byte(`data: {"choices":[{"delta":{"content":"` + strings.Repeat("x", 4000) + `"}}]}` + "\n\n")
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	}
	usage := `{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}`
	if model == "nousage" {
		usage = "null"
	}
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":"%s-0613","choices":[{"message":{"role":"assistant","content":"hi there"}}],"usage":%s}`, model, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	nul := ""
	if withUsage {
		nul = `,"usage":null`
	}
	for i, word := range []string{"hi", " there", "!"} {
		fmt.Fprintf(w, "data: {\"model\":\"%s-0613\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]%s}\n\n", model, word, nul)
		rc.Flush()
		if i == 0 && model == "hang-mid" {
			<-r.Context().Done()
			return
		}
		if i == 0 && f.release != nil {
			<-f.release
		}
	}
	if withUsage && model != "nousage" {
		fmt.Fprintf(w, "data: {\"model\":\"%s-0613\",\"choices\":[],\"usage\":%s}\n\n", model, usage)
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

// tokens is a fixed table of gateway tokens.
type tokens map[string]Caller

func (t tokens) Caller(_ context.Context, token string) (Caller, error) {
	c, ok := t[token]
	if !ok {
		return Caller{}, warder.Errorf(warder.ErrUnauthorized, "no")
	}
	return c, nil
}

const upstreamKey = "sk-upstream-secret-key-0123456789"

// gw is a gateway on loopback in front of a fake upstream, with agents
// a1 and a2 of user u1 (tokens "t1", "t2") and a3 of user u2 ("t3").
type gw struct {
	gateway *Gateway
	srv     *httptest.Server
	up      *fakeUpstream
	ledger  *MemLedger
}

func newGW(t testing.TB, agent, user Budget, tweak func(*Config)) *gw {
	t.Helper()
	g := &gw{up: newFakeUpstream(t, upstreamKey), ledger: NewMemLedger(agent, user)}
	cfg := Config{
		Upstreams: []Upstream{{Name: "fake", BaseURL: g.up.URL + "/v1", Key: upstreamKey}},
		Tokens:    tokens{"t1": {"a1", "u1"}, "t2": {"a2", "u1"}, "t3": {"a3", "u2"}},
		Ledger:    g.ledger,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	var err error
	if g.gateway, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	g.srv = httptest.NewServer(g.gateway)
	t.Cleanup(g.srv.Close)
	return g
}

// post sends body to path as token; it returns the status, the body and
// the header.
func (g *gw) post(t testing.TB, token, path, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return resp.StatusCode, string(b), resp.Header
}
