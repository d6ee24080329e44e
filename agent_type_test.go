package warder

import (
	"errors"
	"testing"

	"github.com/warder/warder/wire"
)

// TestAgentTypeKept: a new type must be one of the original Warder's, but
// an agent stored with another (made before types were checked) keeps it
// through a PATCH or PUT that sends it back, and may leave it.
func TestAgentTypeKept(t *testing.T) {
	old := &Agent{Type: "assistant", Config: map[string]any{}}
	same, chat, other := "assistant", "chat", "echo"
	if err := (&AgentUpdate{Type: &same}).Apply(old, "img"); err != nil || old.Type != "assistant" {
		t.Fatalf("sending the stored type back = %v, type %q", err, old.Type)
	}
	if err := (&AgentUpdate{Type: &other}).Apply(old, "img"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a new unknown type = %v, want ErrInvalid", err)
	}
	if err := (&AgentReplace{AgentUpdate: wire.AgentUpdate{Type: &chat}}).Apply(old, "img"); err != nil || old.Type != "chat" {
		t.Fatalf("to chat = %v, type %q", err, old.Type)
	}
	req := AgentCreate{Name: "a", Type: "assistant"}
	if err := req.Validate("img"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create with an unknown type = %v", err)
	}
}

// TestChatQuery: query is the original Warder's name for content.
func TestChatQuery(t *testing.T) {
	r := ChatRequest{Query: "hello"}
	if err := r.Validate(); err != nil || r.Content != "hello" {
		t.Fatalf("Validate = %v, content %q", err, r.Content)
	}
	r = ChatRequest{Content: "a", Query: "b"}
	if err := r.Validate(); err != nil || r.Content != "a" {
		t.Fatalf("content and query = %v, content %q", err, r.Content)
	}
}
