package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// MustCreateConversation starts a conversation of user on agent with one
// user message and its answer.
func MustCreateConversation(tb testing.TB, db *DB, agentID, userID, says string) *warder.Conversation {
	tb.Helper()
	c := &warder.Conversation{AgentID: agentID, UserID: userID, Title: says}
	msgs := []*warder.Message{{Role: "user", Content: says}, {Role: "assistant", Content: "re: " + says, Model: "m1"}}
	if err := db.CreateConversation(context.Background(), c, msgs); err != nil {
		tb.Fatalf("CreateConversation: %v", err)
	}
	return c
}

func testConversations(t *testing.T, open opener) {
	ctx := context.Background()
	db := open(t)
	u := MustCreateUser(t, db, "alice")
	a := MustCreateAgent(t, db, u.ID, "a")
	b := MustCreateAgent(t, db, u.ID, "b")

	// A conversation is created with its first messages, which get ids,
	// the conversation's id and a time in the store's resolution.
	at := time.Date(2026, 11, 27, 5, 0, 0, 123456789, time.UTC)
	c := &warder.Conversation{AgentID: a.ID, UserID: u.ID, Title: "hello"}
	first := []*warder.Message{{Role: "user", Content: "hello", CreatedAt: at}, {Role: "assistant", Content: "hi!", Model: "gpt-x"}}
	wantNoErr(t, db.CreateConversation(ctx, c, first))
	if c.ID == "" || c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) || c.MessageCount != 2 {
		t.Fatalf("created conversation: %+v", c)
	}
	if first[0].ID == 0 || first[1].ID <= first[0].ID || first[1].ConversationID != c.ID || !first[0].CreatedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("created messages: %+v %+v", first[0], first[1])
	}
	got, err := db.Conversation(ctx, c.ID)
	wantNoErr(t, err)
	if got.AgentID != a.ID || got.UserID != u.ID || got.Title != "hello" || got.MessageCount != 2 || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("Conversation = %+v, want %+v", got, c)
	}

	// Appending keeps the order and moves updated_at.
	time.Sleep(2 * time.Millisecond)
	more := []*warder.Message{{Role: "user", Content: "again"}, {Role: "assistant", Content: "yes", Model: "gpt-x"}}
	wantNoErr(t, db.AppendMessages(ctx, c.ID, more))
	msgs, err := db.Messages(ctx, c.ID, 100, 0)
	wantNoErr(t, err)
	want := []string{"user:hello", "assistant:hi!", "user:again", "assistant:yes"}
	if len(msgs) != len(want) {
		t.Fatalf("Messages = %d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if m.Role+":"+m.Content != want[i] || m.ConversationID != c.ID {
			t.Errorf("message %d = %+v, want %s", i, m, want[i])
		}
	}
	if msgs[0].CreatedAt.IsZero() || !msgs[0].CreatedAt.Equal(first[0].CreatedAt) || msgs[1].Model != "gpt-x" || msgs[0].Model != "" {
		t.Errorf("message fields: %+v %+v", msgs[0], msgs[1])
	}
	latest, err := db.Messages(ctx, c.ID, 2, 0)
	wantNoErr(t, err)
	if len(latest) != 2 || latest[0].Content != "again" || latest[1].Content != "yes" {
		t.Fatalf("latest two messages, oldest first: %+v", latest)
	}
	// A byte budget keeps the newest that fit whole: "yes" (3) and
	// "again" (5) fit in 8; "hi!" would not.
	for budget, want := range map[int]string{8: "again yes", 7: "yes", 2: "", 11: "hi! again yes"} {
		got, err := db.Messages(ctx, c.ID, 100, budget)
		wantNoErr(t, err)
		var contents []string
		for _, m := range got {
			contents = append(contents, m.Content)
		}
		if strings.Join(contents, " ") != want {
			t.Errorf("Messages within %d bytes = %q, want %q", budget, contents, want)
		}
	}
	got, _ = db.Conversation(ctx, c.ID)
	if !got.UpdatedAt.After(got.CreatedAt) || got.MessageCount != 4 {
		t.Fatalf("after append: %+v", got)
	}

	// Lists are per agent, most recently updated first, and limited.
	time.Sleep(2 * time.Millisecond)
	newer := MustCreateConversation(t, db, a.ID, u.ID, "newer")
	MustCreateConversation(t, db, b.ID, u.ID, "elsewhere")
	list, err := db.ListConversations(ctx, a.ID, 10)
	wantNoErr(t, err)
	if len(list) != 2 || list[0].ID != newer.ID || list[1].ID != c.ID || list[1].MessageCount != 4 {
		t.Fatalf("ListConversations = %+v", list)
	}
	if list, _ = db.ListConversations(ctx, a.ID, 1); len(list) != 1 || list[0].ID != newer.ID {
		t.Fatalf("ListConversations limit 1 = %+v", list)
	}
	if list, _ = db.ListConversations(ctx, "no-such-agent", 10); list == nil || len(list) != 0 {
		t.Fatalf("ListConversations of no agent = %#v, want []", list)
	}

	// What does not exist says so.
	_, err = db.Conversation(ctx, "no-such-conversation")
	wantErr(t, err, warder.ErrNotFound, "conversation not found")
	wantErr(t, db.AppendMessages(ctx, "no-such-conversation", more), warder.ErrNotFound, "conversation not found")
	err = db.CreateConversation(ctx, &warder.Conversation{AgentID: "no-such-agent", UserID: u.ID}, nil)
	wantErr(t, err, warder.ErrNotFound, "agent not found")

	// Deleting the agent deletes its conversations and their messages, and
	// nothing of another agent's.
	wantNoErr(t, db.DeleteAgent(ctx, a.ID))
	_, err = db.Conversation(ctx, c.ID)
	wantErr(t, err, warder.ErrNotFound, "")
	if msgs, _ := db.Messages(ctx, c.ID, 100, 0); len(msgs) != 0 {
		t.Fatalf("%d messages outlived their agent", len(msgs))
	}
	if list, _ := db.ListConversations(ctx, b.ID, 10); len(list) != 1 {
		t.Fatalf("the other agent's conversations: %+v", list)
	}
	var n int
	wantNoErr(t, db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&n))
	if n != 2 {
		t.Fatalf("%d messages left in all, want the other agent's 2", n)
	}

	// Health is stored with the agent.
	b.Health = "healthy"
	wantNoErr(t, db.UpdateAgent(ctx, b))
	if got, _ := db.Agent(ctx, b.ID); got.Health != "healthy" {
		t.Fatalf("health = %q after UpdateAgent, want healthy", got.Health)
	}
}
