package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/mcp"
)

// bearerTransport signs every request with a token, as an MCP client
// configured with an Authorization header does.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpHTTP connects the SDK's own client to the server's /api/mcp with token.
func mcpHTTP(t *testing.T, base, token string) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "warder-e2e", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: base + "/api/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{token}}}, nil)
	if err != nil {
		t.Fatalf("connecting to /api/mcp: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mcpStdio runs `warder mcp` (the binary, built once per test) with
// WARDER_URL and WARDER_TOKEN and connects the SDK's client to it.
func mcpStdio(t *testing.T, bin, base, token string) *sdk.ClientSession {
	t.Helper()
	cmd := exec.Command(bin, "mcp")
	cmd.Env = append(os.Environ(), "WARDER_URL="+base, "WARDER_TOKEN="+token, "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Stderr = os.Stderr
	c := sdk.NewClient(&sdk.Implementation{Name: "warder-e2e", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("starting warder mcp: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// call calls a tool; wantErr says whether it must be a tool error. It
// returns the text blocks joined and the structured answer.
func call(t *testing.T, s *sdk.ClientSession, tool string, args map[string]any, wantErr bool) (string, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := s.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	joined := strings.Join(text, "\n")
	if res.IsError != wantErr {
		t.Fatalf("%s %v: isError %v, want %v: %.500s", tool, args, res.IsError, wantErr, joined)
	}
	var out map[string]any
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &out)
	}
	return joined, out
}

// toolNames lists the session's tools.
func toolNames(t *testing.T, s *sdk.ClientSession) []string {
	t.Helper()
	res, err := s.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// mcpFlow drives an agent's life through a session as alice: create and
// start, files, exec, logs, chat, stop, delete; bob's agent stays out of
// her sight.
func mcpFlow(t *testing.T, ts *testServer, s *sdk.ClientSession, alice *apitest.Client, bobsAgent string) {
	for _, want := range []string{"list_agents", "get_agent", "create_agent", "start_agent", "stop_agent", "delete_agent",
		"exec", "list_files", "read_file", "write_file", "chat", "agent_logs"} {
		if !slices.Contains(toolNames(t, s), want) {
			t.Fatalf("no tool %s in %v", want, toolNames(t, s))
		}
	}
	_, a := call(t, s, "create_agent", map[string]any{"name": "mcp-helper", "memory_limit": "64m", "start": true}, false)
	id, _ := a["id"].(string)
	if id == "" {
		t.Fatalf("create_agent answered %v", a)
	}
	alice.WaitStatus(id, time.Minute, apitest.Is(warder.StatusRunning))
	_, ag := call(t, s, "get_agent", map[string]any{"agent": "mcp-helper"}, false) // by name
	if ag["id"] != id || ag["status"] != "running" {
		t.Fatalf("get_agent by name: %v", ag)
	}
	call(t, s, "write_file", map[string]any{"agent": id, "path": "notes/hello.txt", "content": "hello from mcp\n"}, false)
	if txt, _ := call(t, s, "read_file", map[string]any{"agent": id, "path": "notes/hello.txt"}, false); txt != "hello from mcp\n" {
		t.Fatalf("read_file: %q", txt)
	}
	if _, l := call(t, s, "list_files", map[string]any{"agent": id, "path": "notes"}, false); !strings.Contains(mustJSON(l), "hello.txt") {
		t.Fatalf("list_files: %v", l)
	}
	txt, ex := call(t, s, "exec", map[string]any{"agent": id, "cmd": []string{"/warder-agent", "cat", "/data/notes/hello.txt"}}, false)
	if !strings.HasPrefix(txt, "hello from mcp\n") || ex["exit_code"] != 0.0 || ex["truncated"] != false {
		t.Fatalf("exec: %q %v", txt, ex)
	}
	if _, ex = call(t, s, "exec", map[string]any{"agent": id, "cmd": []string{"/warder-agent", "cat", "/data/nothing"}}, false); ex["exit_code"] == 0.0 {
		t.Fatalf("exec of a failing command: %v", ex)
	}
	call(t, s, "agent_logs", map[string]any{"agent": id, "lines": 50}, false)
	if reply, c := call(t, s, "chat", map[string]any{"agent": id, "message": "hello"}, false); reply == "" || c["conversation_id"] == "" {
		t.Fatalf("chat: %q %v", reply, c)
	}

	// Bob's agent is invisible: not listed, not found by id, not usable.
	if _, l := call(t, s, "list_agents", nil, false); strings.Contains(mustJSON(l), bobsAgent) || !strings.Contains(mustJSON(l), id) {
		t.Fatalf("alice's list_agents: %v", l)
	}
	if txt, _ := call(t, s, "get_agent", map[string]any{"agent": bobsAgent}, true); !strings.Contains(txt, "404") {
		t.Fatalf("get_agent of bob's agent: %q", txt)
	}
	call(t, s, "exec", map[string]any{"agent": bobsAgent, "cmd": []string{"/warder-agent", "ls"}}, true)
	call(t, s, "delete_agent", map[string]any{"agent": bobsAgent}, true)
	// An API error comes back as the tool's error, with the API's detail.
	if txt, _ := call(t, s, "create_agent", map[string]any{"name": "mcp-helper"}, true); !strings.Contains(txt, "409") {
		t.Fatalf("a second agent of the same name: %q", txt)
	}

	if _, st := call(t, s, "pause_agent", map[string]any{"agent": id}, false); st["status"] != "paused" {
		t.Fatalf("pause_agent: %v", st)
	}
	if _, st := call(t, s, "resume_agent", map[string]any{"agent": id}, false); st["status"] != "running" {
		t.Fatalf("resume_agent: %v", st)
	}
	if _, st := call(t, s, "stop_agent", map[string]any{"agent": id}, false); st["status"] != "stopped" {
		t.Fatalf("stop_agent: %v", st)
	}
	call(t, s, "delete_agent", map[string]any{"agent": id}, false)
	alice.MustDo("GET", "/api/agents/"+id, nil, 404, nil)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// readOnlyRefused: a read-only key's session lists only the read-only
// tools, and a write tool is refused.
func readOnlyRefused(t *testing.T, s *sdk.ClientSession) {
	names := toolNames(t, s)
	for _, w := range []string{"create_agent", "start_agent", "stop_agent", "pause_agent", "resume_agent", "delete_agent", "exec", "write_file", "chat"} {
		if slices.Contains(names, w) {
			t.Fatalf("a read-only key sees %s: %v", w, names)
		}
	}
	if !slices.Contains(names, "list_agents") || !slices.Contains(names, "read_file") {
		t.Fatalf("a read-only key's tools: %v", names)
	}
	res, err := s.CallTool(context.Background(), &sdk.CallToolParams{Name: "create_agent", Arguments: map[string]any{"name": "sneaky"}})
	if err == nil && !res.IsError {
		t.Fatalf("a read-only key created an agent: %+v", res)
	}
	call(t, s, "list_agents", nil, false)
}

// TestMCPOverHTTP: the SDK's client at /api/mcp of a real Warder on
// Docker runs an agent's whole life with a login token, each tool call
// audited as the API call it makes; a read-only key gets only read-only
// tools; another user's agent is invisible; a 10 MB exec output comes
// back cut to mcp.MaxOutputBytes with its exit code.
func TestMCPOverHTTP(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	root := ts.register(t, "root") // the first user is an admin
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	bobs := bob.CreateAgent("bobs")
	s := mcpHTTP(t, ts.URL, alice.Token)
	mcpFlow(t, ts, s, alice, bobs.ID)

	// Audited as the API calls: the exec by alice, on her agent.
	var got struct{ Entries []warder.AuditEntry }
	root.MustDo("GET", "/api/audit?user=alice", nil, 200, &got)
	actions := map[string]bool{}
	for _, e := range got.Entries {
		actions[e.Action] = true
		if strings.HasPrefix(e.Action, "exec [") {
			actions["exec"] = true // the service's one entry of a command it ran
		}
		if e.Action == "POST /api/mcp" {
			t.Errorf("the MCP request itself was audited: %+v", e)
		}
	}
	for _, want := range []string{"POST /api/agents", "exec", "PUT /api/agents/{id}/files/{path...}", "POST /api/agents/{id}/stop", "DELETE /api/agents/{id}"} {
		if !actions[want] {
			t.Errorf("no audit entry %q among %v", want, actions)
		}
	}

	_, key := alice.NewKey(map[string]any{"name": "ro", "read_only": true})
	readOnlyRefused(t, mcpHTTP(t, ts.URL, key.Key))

	// Without a credential: the API's 401, before any MCP.
	status, _ := (&apitest.Client{T: t, Base: ts.URL}).Do("POST", "/api/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if status != 401 {
		t.Fatalf("POST /api/mcp without a token = %d", status)
	}

	t.Run("ExecOutputBounded", func(t *testing.T) { mcpExecBounded(t, s, alice) })
}

// mcpExecBounded: a command writing 10 MB answers its first
// mcp.MaxOutputBytes, the count of what was left out, and its exit code.
func mcpExecBounded(t *testing.T, s *sdk.ClientSession, alice *apitest.Client) {
	a := alice.CreateWith("spewer", map[string]any{"memory_limit": "64m"})
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	const size = 10_000_000
	line := strings.Repeat("0123456789abcdef", 4)[:63] + "\n"
	big := strings.Repeat(line, size/len(line)+1)[:size]
	alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/big.txt", big, 200, nil)
	txt, ex := call(t, s, "exec", map[string]any{"agent": a.ID, "cmd": []string{"/warder-agent", "cat", "/data/big.txt"}}, false)
	if ex["exit_code"] != 0.0 || ex["truncated"] != true || ex["output_bytes"] != float64(size) {
		t.Fatalf("exec of 10 MB: %v", ex)
	}
	out, note, _ := strings.Cut(txt, "\n[exit code")
	if len(out) != mcp.MaxOutputBytes || !strings.HasPrefix(big, out) {
		t.Fatalf("exec of 10 MB answered %d bytes of output, want the first %d", len(out), mcp.MaxOutputBytes)
	}
	if !strings.Contains(note, "output cut: 10000000 bytes written") {
		t.Fatalf("exec of 10 MB: the note %q", note)
	}
}

// TestMCPOverStdio: `warder mcp` with WARDER_URL and WARDER_TOKEN serves
// the same tools over stdin and stdout to the SDK's client: the same
// flow, and a read-only key's session without the write tools.
func TestMCPOverStdio(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	bin := filepath.Join(t.TempDir(), "warder")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/warder/warder/cmd/warder").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	ts.register(t, "root") // the first user is an admin, who sees every agent
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	bobs := bob.CreateAgent("bobs")
	mcpFlow(t, ts, mcpStdio(t, bin, ts.URL, alice.Token), alice, bobs.ID)
	_, key := alice.NewKey(map[string]any{"name": "ro", "read_only": true})
	readOnlyRefused(t, mcpStdio(t, bin, ts.URL, key.Key))
	// The resource: an agent's logs.
	s := mcpStdio(t, bin, ts.URL, alice.Token)
	a := alice.CreateWith("logged", map[string]any{"memory_limit": "64m"})
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	res, err := s.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "warder://agents/logged/logs"})
	if err != nil || len(res.Contents) != 1 {
		t.Fatalf("reading the logs resource: %v %+v", err, res)
	}
	if _, err := s.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "warder://agents/" + bobs.ID + "/logs"}); err == nil {
		t.Fatal("bob's agent's logs were readable by alice")
	}
}
