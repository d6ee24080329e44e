package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	moby "github.com/moby/moby/client"
)

// fakeLLM is an OpenAI-compatible chat-completions server for agents in
// containers: it listens on the gateway of the test server's agent
// network, the host's address on that bridge. What it answers depends on
// the last message:
//
//	"401", "429"   that status, with an error body echoing the key
//	"slow"         nothing, until the caller gives up
//	"garbage"      200 with HTML
//	"gated"        a stream: "first " at once, "second" after Release
//	anything else  "You said: <message> (<n> messages)", streamed word by
//	               word when asked
type fakeLLM struct {
	URL string // the base URL as agents see it, ending in /v1

	mu       sync.Mutex
	requests []llmRequest
	release  chan struct{}
}

// llmRequest is what one chat-completions request carried.
type llmRequest struct {
	Auth     string
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// newFakeLLM starts a fakeLLM for ts's agents, stopped when the test ends.
func newFakeLLM(t *testing.T, ts *testServer) *fakeLLM {
	t.Helper()
	gw := networkGateway(t, ts.Config.Network)
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatalf("listening on the agent network's gateway %s: %v", gw, err)
	}
	f := &fakeLLM{URL: "http://" + ln.Addr().String() + "/v1", release: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(f.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		f.Release()
		srv.Close()
	})
	return f
}

// networkGateway waits for Warder to create the network and returns its
// gateway address.
func networkGateway(t *testing.T, name string) string {
	t.Helper()
	cli := dockerClient(t)
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := cli.NetworkInspect(context.Background(), name, moby.NetworkInspectOptions{})
		if err == nil {
			for _, c := range res.Network.IPAM.Config {
				if c.Gateway.Is4() {
					return c.Gateway.String()
				}
			}
			t.Fatalf("network %s has no IPv4 gateway: %+v", name, res.Network.IPAM)
		}
		if time.Now().After(deadline) {
			t.Fatalf("network %s never appeared: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Release lets gated answers finish. Safe to call twice.
func (f *fakeLLM) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.release:
	default:
		close(f.release)
	}
}

// Requests returns the chat-completions requests so far.
func (f *fakeLLM) Requests() []llmRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]llmRequest(nil), f.requests...)
}

func (f *fakeLLM) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/models" {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model"}]}`)
		return
	}
	var req llmRequest
	if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, 400)
		return
	}
	req.Auth = r.Header.Get("Authorization")
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	last := req.Messages[len(req.Messages)-1].Content
	switch last {
	case "401", "429":
		code := 401
		fmt.Sscan(last, &code)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"message":"refused %s"}}`, req.Auth)
		return
	case "slow":
		<-r.Context().Done()
		return
	case "garbage":
		fmt.Fprint(w, "<html>not an API</html>")
		return
	}
	answer := fmt.Sprintf("You said: %s (%d messages)", last, len(req.Messages))
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"model": req.Model + "-0001", "choices": []any{
			map[string]any{"message": map[string]string{"role": "assistant", "content": answer}, "finish_reason": "stop"},
		}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	pieces := strings.SplitAfter(answer, " ")
	if last == "gated" {
		pieces = []string{"first ", "second"}
	}
	for i, p := range pieces {
		if last == "gated" && i == 1 {
			select {
			case <-f.release:
			case <-r.Context().Done():
				return
			}
		}
		finish := "null"
		if i == len(pieces)-1 {
			finish = `"stop"`
		}
		fmt.Fprintf(w, "data: {\"model\":%q,\"choices\":[{\"delta\":{\"content\":%q},\"finish_reason\":%s}]}\n\n", req.Model+"-0001", p, finish)
		w.(http.Flusher).Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}
