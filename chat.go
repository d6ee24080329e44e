package warder

import (
	"context"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/warder/warder/wire"
)

// Message roles. The system prompt is the agent's own (config.system_prompt)
// and is never stored.
const (
	RoleUserMessage      = "user"
	RoleAssistantMessage = "assistant"
)

// MaxChatContentBytes caps one user message.
const MaxChatContentBytes = 128 << 10

// MaxAnswerBytes caps an agent's answer as it comes over the wire: the
// JSON of a whole answer, any one event of a streamed answer (the "done"
// event carries the whole answer), and the pieces of a stream together.
// The answer is stored as a message, so it must stay small; 4 MiB is far
// more than any model writes in one answer, and keeps what one chat makes
// Warder hold to a few MiB.
const MaxAnswerBytes = 4 << 20

// Conversations, their messages and an agent's answer are the API's
// shapes, defined in package wire (docs/architecture.md, "Wire types").
type (
	Conversation = wire.Conversation
	Message      = wire.Message
	ChatReply    = wire.ChatReply
)

// ChatRequest is the body of POST /api/agents/{id}/chat
// (wire.ChatRequest), with the server's checks.
type ChatRequest wire.ChatRequest

// ConversationStore persists conversations. A conversation belongs to an
// agent: deleting the agent deletes its conversations and their messages.
type ConversationStore interface {
	// CreateConversation inserts c with its first messages, in one
	// transaction, filling c's times and each message's ID. An agent that
	// no longer exists is ErrNotFound.
	CreateConversation(ctx context.Context, c *Conversation, msgs []*Message) error
	// AppendMessages adds msgs to the conversation, in order and in one
	// transaction, and moves its UpdatedAt; a conversation that no longer
	// exists is ErrNotFound.
	AppendMessages(ctx context.Context, conversationID string, msgs []*Message) error
	// Conversation returns the conversation by id, or ErrNotFound.
	Conversation(ctx context.Context, id string) (*Conversation, error)
	// ListConversations lists the agent's conversations, most recently
	// updated first, at most limit.
	ListConversations(ctx context.Context, agentID string, limit int) ([]*Conversation, error)
	// Messages lists the conversation's latest messages, oldest first: at
	// most limit, and, when maxBytes > 0, only the newest that fit whole in
	// maxBytes of content.
	Messages(ctx context.Context, conversationID string, limit, maxBytes int) ([]*Message, error)
}

// Validate checks the request and fills the default role.
func (r *ChatRequest) Validate() error {
	if r.Content == "" {
		r.Content = r.Query
	}
	if strings.TrimSpace(r.Content) == "" {
		return Errorf(ErrInvalid, "content is required")
	}
	if len(r.Content) > MaxChatContentBytes {
		return Errorf(ErrInvalid, "content is longer than %d bytes", MaxChatContentBytes)
	}
	// What no store can keep as text (PostgreSQL refuses both); other
	// control characters (\r, escapes) are a user's to send.
	if !utf8.ValidString(r.Content) || strings.IndexByte(r.Content, 0) >= 0 {
		return Errorf(ErrInvalid, "content must be UTF-8 text without NUL characters")
	}
	if r.Role == "" {
		r.Role = RoleUserMessage
	}
	if r.Role != RoleUserMessage {
		return Errorf(ErrInvalid, "role must be %q, not %q", RoleUserMessage, r.Role)
	}
	if r.ConversationID != "" {
		if _, err := uuid.Parse(r.ConversationID); err != nil {
			return Errorf(ErrInvalid, "conversation_id %q is not a valid id", r.ConversationID)
		}
	}
	return nil
}

// ChatDelta is one piece of a streamed answer.
type ChatDelta struct {
	ConversationID string
	Content        string
}

// AgentMessage is one earlier message sent to an agent as context.
type AgentMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// AgentChat is what Warder sends to an agent's POST /chat.
type AgentChat struct {
	Content string `json:"content"`
	Role    string `json:"role"`
	Stream  bool   `json:"stream"`
	// Messages is the conversation so far, oldest first.
	Messages []AgentMessage `json:"messages"`
}

// AgentAnswer is an agent's complete answer.
type AgentAnswer struct {
	Content string
	Model   string
}

// AgentClient speaks the agent protocol (GET /health, POST /chat; see the
// README) to an agent's HTTP port at base, e.g. http://127.0.0.1:9001.
// It is safe for concurrent use.
type AgentClient interface {
	// Health reports whether the agent answers HTTP on GET /health: any
	// status below 500 counts, so a custom image without /health (404)
	// is still up. Not answering is ErrBadGateway.
	Health(ctx context.Context, base *url.URL) error
	// Chat sends msg. With onDelta set it asks for a stream and calls
	// onDelta with each piece as it arrives; the answer holds the whole
	// content either way. Failures of the agent (or its model) wrap
	// ErrBadGateway, and so does an answer over MaxAnswerBytes: it is cut
	// off there, never read to its end. No call waits forever.
	Chat(ctx context.Context, base *url.URL, msg AgentChat, onDelta func(string) error) (AgentAnswer, error)
}
