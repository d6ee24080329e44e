package wire

import "time"

// Conversation is a thread of messages between users and one agent.
type Conversation struct {
	ID      string `json:"id"`
	AgentID string `json:"agent_id"`
	// UserID is who started it: the agent's owner, or an admin.
	UserID string `json:"user_id"`
	// Title is the start of the first message, for lists.
	Title        string    `json:"title"`
	MessageCount int       `json:"message_count"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Message is one stored message of a conversation.
type Message struct {
	ID             int64  `json:"id"`
	ConversationID string `json:"conversation_id"`
	Role           string `json:"role"`
	Content        string `json:"content"`
	// Model is the model that wrote an assistant message, as the agent said.
	Model     string    `json:"model,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ChatRequest is the body of POST /api/agents/{id}/chat.
type ChatRequest struct {
	Content string `json:"content"`
	// Role is "user", the only role a caller speaks in; "" means "user".
	Role string `json:"role"`
	// Stream asks for the answer as Server-Sent Events, piece by piece.
	Stream bool `json:"stream"`
	// ConversationID continues a conversation; "" starts a new one.
	ConversationID string `json:"conversation_id"`
	// Query is the original Warder's name for Content, used when Content
	// is empty.
	Query string `json:"query,omitempty"`
}

// ChatReply is the agent's answer to one message, once it is complete.
type ChatReply struct {
	ConversationID string `json:"conversation_id"`
	Role           string `json:"role"`
	Content        string `json:"content"`
	Model          string `json:"model,omitempty"`
}
