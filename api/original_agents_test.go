package api_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/warder/warder/internal/testkit/apitest"
)

// TestOriginalAgentShape: what the original Warder's clients send and
// read of an agent: auto_start echoed in container_config, a PUT's config
// merged key by key, type one of the original's values (an agent stored
// with another keeps it), and chat as POST .../query with a query field.
func TestOriginalAgentShape(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	ts.register(t, "root")
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")

	var a map[string]any
	alice.MustDo("POST", "/api/agents/", map[string]any{
		"name": "kb", "type": "rag", "config": map[string]any{"model": "m1", "temperature": 0.5},
		"container_config": map[string]any{"memory_limit": "32m"},
	}, 201, &a)
	id := a["id"].(string)
	if cc := a["container_config"].(map[string]any); cc["auto_start"] != false {
		t.Fatalf("container_config = %v, want auto_start false", cc)
	}

	// PUT merges config; PATCH replaces it.
	alice.MustDo("PUT", "/api/agents/"+id, map[string]any{"config": map[string]any{"model": "m2", "top_p": nil}}, 200, &a)
	if want := map[string]any{"model": "m2", "temperature": 0.5, "top_p": nil}; !reflect.DeepEqual(a["config"], want) {
		t.Fatalf("config after PUT = %v, want %v", a["config"], want)
	}
	alice.MustDo("PATCH", "/api/agents/"+id, map[string]any{"config": map[string]any{"model": "m3"}}, 200, &a)
	if want := map[string]any{"model": "m3"}; !reflect.DeepEqual(a["config"], want) {
		t.Fatalf("config after PATCH = %v, want %v", a["config"], want)
	}

	// Types.
	for _, typ := range []string{"rag", "chat", "function", "custom"} {
		alice.MustDo("PATCH", "/api/agents/"+id, map[string]any{"type": typ}, 200, nil)
	}
	for _, body := range []map[string]any{{"name": "bad", "type": "assistant"}, {"name": "bad", "type": strings.Repeat("x", 500)}} {
		status, raw := alice.Do("POST", "/api/agents", body)
		if status != http.StatusBadRequest || !strings.Contains(apitest.DetailOf(t, raw), "type") {
			t.Fatalf("create with type %.20v = %d %s", body["type"], status, raw)
		}
	}
	alice.MustDo("PUT", "/api/agents/"+id, map[string]any{"type": "assistant"}, 400, nil)

	// Query: the chat route under the original's name, with query for content.
	q := "/api/agents/" + id + "/query"
	if status, raw := alice.Do("POST", q, map[string]any{"query": "hi\u0000"}); status != 400 || !strings.Contains(apitest.DetailOf(t, raw), "without NUL") {
		t.Fatalf("query with a NUL = %d %s", status, raw)
	}
	if status, raw := alice.Do("POST", q, map[string]any{}); status != 400 || !strings.Contains(apitest.DetailOf(t, raw), "content is required") {
		t.Fatalf("empty query = %d %s", status, raw)
	}
	bob.MustDo("POST", q, map[string]any{"query": "hi"}, 404, nil)
}

// TestKnowledgeBaseKept: knowledge_base is accepted at create, kept, shown
// back, replaced by PATCH (kept by a PUT without it), cleared with {}.
func TestKnowledgeBaseKept(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	alice := ts.register(t, "alice")
	kb := map[string]any{"directory": "data/pdfs", "recreate": false, "chunk_size": float64(1000), "chunk_overlap": float64(200)}
	var a map[string]any
	alice.MustDo("POST", "/api/agents", map[string]any{"name": "kb", "type": "rag", "knowledge_base": kb}, 201, &a)
	id := a["id"].(string)
	alice.MustDo("GET", "/api/agents/"+id, nil, 200, &a)
	if !reflect.DeepEqual(a["knowledge_base"], kb) {
		t.Fatalf("knowledge_base = %v, want %v", a["knowledge_base"], kb)
	}
	alice.MustDo("PUT", "/api/agents/"+id, map[string]any{"name": "kb2"}, 200, &a)
	if !reflect.DeepEqual(a["knowledge_base"], kb) {
		t.Fatalf("knowledge_base after a PUT without it = %v", a["knowledge_base"])
	}
	alice.MustDo("PATCH", "/api/agents/"+id, map[string]any{"knowledge_base": map[string]any{"directory": "docs"}}, 200, &a)
	if !reflect.DeepEqual(a["knowledge_base"], map[string]any{"directory": "docs"}) {
		t.Fatalf("knowledge_base after PATCH = %v", a["knowledge_base"])
	}
	alice.MustDo("PATCH", "/api/agents/"+id, map[string]any{"knowledge_base": map[string]any{}}, 200, &a)
	if !reflect.DeepEqual(a["knowledge_base"], map[string]any{}) {
		t.Fatalf("knowledge_base after clearing = %v", a["knowledge_base"])
	}
	var b map[string]any
	alice.MustDo("POST", "/api/agents", map[string]any{"name": "plain"}, 201, &b)
	if v := b["knowledge_base"]; !reflect.DeepEqual(v, map[string]any{}) {
		t.Fatalf("knowledge_base of an agent without one = %v, want {}", v)
	}
	alice.MustDo("POST", "/api/agents", map[string]any{"name": "big", "knowledge_base": map[string]any{"x": strings.Repeat("a", 20000)}}, 400, nil)
}
