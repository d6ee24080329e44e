// Package llmtest is a stand-in model provider for tests of Warder's LLM
// gateway: an OpenAI-compatible server on loopback (nothing leaves the
// machine) that checks the provider key, answers chat completions
// (streamed or not), completions, embeddings and the model list, and
// reports a fixed usage per answer so metering can be checked exactly.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Usage per answer: 10 prompt and 5 completion tokens, 15 in all.
const (
	PromptTokens     = 10
	CompletionTokens = 5
	Tokens           = PromptTokens + CompletionTokens
)

// Upstream is the stand-in provider. Its answers' model is the asked
// one with "-0613" appended, as providers name versions.
type Upstream struct {
	*httptest.Server
	// Key is the provider key it takes ("Authorization: Bearer <Key>").
	Key string
	// Calls counts the requests that reached it; Metered, the tokens of
	// the answers it gave (what the gateway should have counted).
	Calls, Metered atomic.Int64

	mu    sync.Mutex
	auths []string // the Authorization headers seen
}

// New starts an Upstream taking key, closed when tb ends.
func New(tb testing.TB, key string) *Upstream {
	u := &Upstream{Key: key}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	tb.Cleanup(u.Close)
	return u
}

// BaseURL is its API's base URL, with the version.
func (u *Upstream) BaseURL() string { return u.URL + "/v1" }

// Auths are the Authorization headers of every request it got.
func (u *Upstream) Auths() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.auths...)
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.Calls.Add(1)
	u.mu.Lock()
	u.auths = append(u.auths, r.Header.Get("Authorization"))
	u.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+u.Key {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"gpt-test","object":"model"}]}`)
		return
	}
	var body struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, PromptTokens, CompletionTokens, Tokens)
	said := ""
	if n := len(body.Messages); n > 0 {
		said = body.Messages[n-1].Content
	}
	words := []string{"You", " said:", " " + said}
	model := body.Model + "-0613"
	if !body.Stream || strings.HasSuffix(r.URL.Path, "/embeddings") {
		u.Metered.Add(Tokens)
		w.Header().Set("Content-Type", "application/json")
		content, _ := json.Marshal(strings.Join(words, ""))
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":%s}`, model, content, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	for _, word := range words {
		piece, _ := json.Marshal(word)
		fmt.Fprintf(w, "data: {\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":%s}}]}\n\n", model, piece)
		rc.Flush()
	}
	if body.StreamOptions.IncludeUsage {
		u.Metered.Add(Tokens)
		fmt.Fprintf(w, "data: {\"model\":%q,\"choices\":[],\"usage\":%s}\n\n", model, usage)
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

// Post sends body to url as an agent would, with token as its
// OPENAI_API_KEY, and returns the status, the whole body and the header.
func Post(tb testing.TB, url, token, body string) (int, string, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// Chat is a chat completion's body for model, streamed or not.
func Chat(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, model, stream)
}
