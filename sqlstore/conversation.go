package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/warder/warder"
)

// conversationColumns are read by scanConversations, in its order.
const conversationColumns = `c.id, c.agent_id, c.user_id, c.title, c.created_at, c.updated_at,
	(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)`

// CreateConversation inserts c, filling an empty ID with a new UUID and its
// times with the current time, together with its first messages. An agent
// or user that does not exist is ErrNotFound.
func (db *DB) CreateConversation(ctx context.Context, c *warder.Conversation, msgs []*warder.Message) (err error) {
	defer db.classify(&err)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create conversation: %w", err)
	}
	defer tx.Rollback()
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	c.CreatedAt = now()
	c.UpdatedAt = c.CreatedAt
	_, err = tx.ExecContext(ctx, `
		INSERT INTO conversations (id, agent_id, user_id, title, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.AgentID, c.UserID, c.Title, c.CreatedAt, c.UpdatedAt)
	switch v := db.violation(err); {
	case v.kind == foreignKeyViolation:
		return warder.Errorf(warder.ErrNotFound, "agent not found")
	case v.kind == uniqueViolation:
		return warder.Errorf(warder.ErrConflict, "a conversation with this id already exists")
	case err != nil:
		return fmt.Errorf("sqlstore: create conversation: %w", err)
	}
	if err := insertMessages(ctx, tx, c.ID, msgs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create conversation: %w", err)
	}
	c.MessageCount = len(msgs)
	return nil
}

// AppendMessages adds msgs to the conversation and sets its updated_at.
func (db *DB) AppendMessages(ctx context.Context, conversationID string, msgs []*warder.Message) (err error) {
	defer db.classify(&err)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: append messages: %w", err)
	}
	defer tx.Rollback()
	// Updating first takes the row's lock, so a conversation deleted with
	// its agent meanwhile is noticed here rather than as a foreign key.
	res, err := tx.ExecContext(ctx, `UPDATE conversations SET updated_at = $1 WHERE id = $2`, now(), conversationID)
	if err != nil {
		return fmt.Errorf("sqlstore: append messages: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: append messages: %w", err)
	} else if n == 0 {
		return warder.Errorf(warder.ErrNotFound, "conversation not found")
	}
	if err := insertMessages(ctx, tx, conversationID, msgs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: append messages: %w", err)
	}
	return nil
}

// insertMessages writes msgs in order inside tx, filling their ids,
// conversation id and, when zero, their time.
func insertMessages(ctx context.Context, tx *sql.Tx, conversationID string, msgs []*warder.Message) error {
	for _, m := range msgs {
		m.ConversationID = conversationID
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now()
		}
		m.CreatedAt = dbTime(m.CreatedAt)
		err := tx.QueryRowContext(ctx, `
			INSERT INTO messages (conversation_id, role, content, model, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			conversationID, m.Role, m.Content, m.Model, m.CreatedAt).Scan(&m.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: insert message: %w", err)
		}
	}
	return nil
}

// Conversation returns the conversation with the given id, or ErrNotFound.
func (db *DB) Conversation(ctx context.Context, id string) (_ *warder.Conversation, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT `+conversationColumns+` FROM conversations c WHERE c.id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read conversation: %w", err)
	}
	convs, err := scanConversations(rows)
	if err != nil {
		return nil, err
	}
	if len(convs) == 0 {
		return nil, warder.Errorf(warder.ErrNotFound, "conversation not found")
	}
	return convs[0], nil
}

// ListConversations returns the agent's latest limit conversations, most
// recently updated first. The result is never nil.
func (db *DB) ListConversations(ctx context.Context, agentID string, limit int) (_ []*warder.Conversation, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `SELECT `+conversationColumns+` FROM conversations c
		WHERE c.agent_id = $1 ORDER BY c.updated_at DESC, c.id DESC LIMIT $2`, agentID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list conversations: %w", err)
	}
	return scanConversations(rows)
}

// scanConversations reads every row of conversationColumns and closes rows.
func scanConversations(rows *sql.Rows) ([]*warder.Conversation, error) {
	defer rows.Close()
	convs := []*warder.Conversation{}
	for rows.Next() {
		var c warder.Conversation
		err := rows.Scan(&c.ID, &c.AgentID, &c.UserID, &c.Title, utcTime{&c.CreatedAt}, utcTime{&c.UpdatedAt}, &c.MessageCount)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read conversation: %w", err)
		}
		convs = append(convs, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: read conversations: %w", err)
	}
	return convs, nil
}

// Messages lists the conversation's latest messages, oldest first: at
// most limit, and, when maxBytes > 0, only as many of the newest as fit
// in maxBytes of content, whole. Rows are read newest first and one at a
// time, so memory stays near maxBytes however large the messages are.
func (db *DB) Messages(ctx context.Context, conversationID string, limit, maxBytes int) (_ []*warder.Message, err error) {
	defer db.classify(&err)
	rows, err := db.db.QueryContext(ctx, `
		SELECT id, conversation_id, role, content, model, created_at
		FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2`, conversationID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read messages: %w", err)
	}
	defer rows.Close()
	msgs, size := []*warder.Message{}, 0
	for rows.Next() {
		var m warder.Message
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.Role, &m.Content, &m.Model, utcTime{&m.CreatedAt}); err != nil {
			return nil, fmt.Errorf("sqlstore: read messages: %w", err)
		}
		if size += len(m.Content); maxBytes > 0 && size > maxBytes {
			break
		}
		msgs = append(msgs, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: read messages: %w", err)
	}
	slices.Reverse(msgs)
	return msgs, nil
}
