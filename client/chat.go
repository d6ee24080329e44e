package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/warder/warder/wire"
)

// Chat sends one message to the agent (starting it if need be) and
// returns its whole answer. req.Stream is ignored: ChatStream streams.
func (c *Client) Chat(ctx context.Context, id string, req wire.ChatRequest) (*wire.ChatReply, error) {
	req.Stream = false
	var r wire.ChatReply
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/agents/" + seg(id) + "/chat", body: req}, &r)
	return orNil(&r, err)
}

// ChatStream sends one message and hands each piece of the answer to
// onPiece as the model writes it; it returns the whole answer once it is
// complete. A failure after the first piece is an *Error with Status 0.
func (c *Client) ChatStream(ctx context.Context, id string, req wire.ChatRequest, onPiece func(string) error) (*wire.ChatReply, error) {
	req.Stream = true
	var reply *wire.ChatReply
	_, err := c.stream(ctx, request{method: http.MethodPost, path: "/api/agents/" + seg(id) + "/chat", body: req},
		func(ev event) error {
			switch ev.name {
			case "done":
				reply = new(wire.ChatReply)
				if err := json.Unmarshal(ev.data, reply); err != nil {
					return fmt.Errorf("warder client: decode the answer: %w", err)
				}
				return errDone
			case "":
				var p wire.ChatPiece
				if err := json.Unmarshal(ev.data, &p); err != nil {
					return fmt.Errorf("warder client: decode a piece of the answer: %w", err)
				}
				if onPiece != nil {
					return onPiece(p.Content)
				}
			}
			return nil
		})
	if errors.Is(err, errDone) {
		return reply, nil
	}
	if err == nil {
		err = fmt.Errorf("warder client: the answer ended before it was complete")
	}
	return nil, err
}

// Conversations lists the agent's conversations, most recently used
// first; limit 0 is the server's default (100).
func (c *Client) Conversations(ctx context.Context, agentID string, limit int) ([]*wire.Conversation, error) {
	var r wire.ConversationsResponse
	err := c.get(ctx, "/api/agents/"+seg(agentID)+"/conversations", limitQuery(limit), &r)
	return r.Conversations, err
}

// Conversation returns one conversation with its latest messages, oldest
// first; limit 0 is the server's default (1000).
func (c *Client) Conversation(ctx context.Context, agentID, conversationID string, limit int) (*wire.ConversationDetail, error) {
	var r wire.ConversationDetail
	err := c.get(ctx, "/api/agents/"+seg(agentID)+"/conversations/"+seg(conversationID), limitQuery(limit), &r)
	return orNil(&r, err)
}
