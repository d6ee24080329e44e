package service

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
)

// fakeAgents is a warder.AgentClient standing in for agents' ports; the
// agent protocol itself is tested in package agenthttp.
type fakeAgents struct {
	mu      sync.Mutex
	down    bool               // /health does not answer
	probed  int                // /health requests
	probeAt []string           // the base URL of every /health request
	fail    error              // Chat fails with this
	asked   []warder.AgentChat // every message sent
	reached []string           // the base URL of every chat
	answer  string             // when set, every answer's content
}

var _ warder.AgentClient = (*fakeAgents)(nil)

func (f *fakeAgents) Health(_ context.Context, base *url.URL) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probed++
	f.probeAt = append(f.probeAt, base.String())
	if f.down {
		return warder.Errorf(warder.ErrBadGateway, "connection refused")
	}
	return nil
}

func (f *fakeAgents) Chat(_ context.Context, base *url.URL, msg warder.AgentChat, onDelta func(string) error) (warder.AgentAnswer, error) {
	f.mu.Lock()
	f.asked, f.reached = append(f.asked, msg), append(f.reached, base.String())
	fail, answer := f.fail, f.answer
	f.mu.Unlock()
	if fail != nil {
		return warder.AgentAnswer{}, fail
	}
	content := fmt.Sprintf("re: %s (%d before)", msg.Content, len(msg.Messages))
	if answer != "" {
		content = answer
	}
	if onDelta != nil {
		for _, p := range strings.SplitAfter(content, " ") {
			if err := onDelta(p); err != nil {
				return warder.AgentAnswer{}, err
			}
		}
	}
	return warder.AgentAnswer{Content: content, Model: "fake-1"}, nil
}

func newChatService(t *testing.T) (*Service, *runtimetest.Fake, *fakeAgents) {
	t.Helper()
	s, rt := newTestService(t, 10)
	fa := &fakeAgents{}
	s.Chat.client, s.Observe.client, s.Chat.cfg.ReadyTimeout = fa, fa, 5*time.Second
	return s, rt, fa
}

// TestChatConversation: a chat starts a stopped agent, the conversation
// so far goes with every later message, and each turn is stored.
func TestChatConversation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, fa := newChatService(t)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")

	var pieces []string
	reply, err := s.Chat.Chat(ctx, u, a.ID, warder.ChatRequest{Content: "  hello\nthere  "}, func(d warder.ChatDelta) error {
		if d.ConversationID == "" {
			t.Error("a delta without a conversation id")
		}
		pieces = append(pieces, d.Content)
		return nil
	})
	if err != nil || reply.Content != "re:   hello\nthere   (0 before)" || reply.Model != "fake-1" || reply.Role != "assistant" || len(pieces) < 2 {
		t.Fatalf("Chat = %+v, %v (pieces %q)", reply, err, pieces)
	}
	got, _ := s.Agents.Agent(ctx, u, a.ID)
	if got.Status != warder.StatusRunning || fa.reached[0] != fmt.Sprintf("http://127.0.0.1:%d", got.HostPort) || got.LastUsedAt.IsZero() {
		t.Fatalf("after chat: agent %+v reached at %v", got, fa.reached)
	}

	reply2, err := s.Chat.Chat(ctx, u, a.ID, warder.ChatRequest{Content: "again", ConversationID: reply.ConversationID}, nil)
	if err != nil || reply2.ConversationID != reply.ConversationID || reply2.Content != "re: again (2 before)" {
		t.Fatalf("second Chat = %+v, %v", reply2, err)
	}
	if h := fa.asked[1].Messages; len(h) != 2 || h[0].Role != "user" || h[0].Content != "  hello\nthere  " || h[1].Role != "assistant" {
		t.Fatalf("history sent = %+v", h)
	}
	convs, err := s.Chat.Conversations(ctx, u, a.ID, 10)
	if err != nil || len(convs) != 1 || convs[0].Title != "hello there" || convs[0].MessageCount != 4 || convs[0].UserID != u.ID {
		t.Fatalf("Conversations = %+v, %v", convs, err)
	}
	c, msgs, err := s.Chat.Conversation(ctx, u, a.ID, reply.ConversationID, 100)
	if err != nil || c.ID != reply.ConversationID || len(msgs) != 4 || msgs[3].Content != reply2.Content || msgs[3].Model != "fake-1" || msgs[0].CreatedAt.IsZero() {
		t.Fatalf("Conversation = %+v %+v, %v", c, msgs, err)
	}
}

// TestChatAnswerStorable: an agent's answer with a NUL or bytes that are
// not UTF-8 is kept as text any store holds (the NUL dropped, a stray
// byte U+FFFD), and the turn is stored, not lost.
func TestChatAnswerStorable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, fa := newChatService(t)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")
	fa.answer = "fine\x00 an\xffswer"
	reply, err := s.Chat.Chat(ctx, u, a.ID, warder.ChatRequest{Content: "hello"}, nil)
	if err != nil || reply.Content != "fine an\uFFFDswer" {
		t.Fatalf("Chat = %+v, %v", reply, err)
	}
	_, msgs, err := s.Chat.Conversation(ctx, u, a.ID, reply.ConversationID, 100)
	if err != nil || len(msgs) != 2 || msgs[1].Content != reply.Content {
		t.Fatalf("stored turn = %+v, %v", msgs, err)
	}
}

// TestChatRules: who may chat, and which conversation; a failed turn
// stores nothing.
func TestChatRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, fa := newChatService(t)
	admin, alice, bob := mustUser(t, s, "root"), mustUser(t, s, "alice"), mustUser(t, s, "bob")
	a, b := mustAgent(t, s, alice, "a"), mustAgent(t, s, alice, "b")
	reply, err := s.Chat.Chat(ctx, alice, a.ID, warder.ChatRequest{Content: "hi"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cid := reply.ConversationID

	notFound := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, warder.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	_, err = s.Chat.Chat(ctx, bob, a.ID, warder.ChatRequest{Content: "hi"}, nil)
	notFound("bob chats with alice's agent", err)
	_, err = s.Chat.Conversations(ctx, bob, a.ID, 10)
	notFound("bob lists alice's conversations", err)
	_, _, err = s.Chat.Conversation(ctx, bob, a.ID, cid, 10)
	notFound("bob reads alice's conversation", err)
	_, err = s.Chat.AgentEndpoint(ctx, bob, a.ID)
	notFound("bob proxies to alice's agent", err)
	_, err = s.Chat.Chat(ctx, alice, b.ID, warder.ChatRequest{Content: "hi", ConversationID: cid}, nil)
	notFound("a conversation of another agent", err)
	_, _, err = s.Chat.Conversation(ctx, alice, b.ID, cid, 10)
	notFound("reading it through another agent", err)
	if _, _, err := s.Chat.Conversation(ctx, admin, a.ID, cid, 10); err != nil {
		t.Errorf("the admin reads alice's conversation: %v", err)
	}

	for _, req := range []warder.ChatRequest{{Content: " "}, {Content: "x", Role: "system"}, {Content: "x", ConversationID: "nope"}} {
		if _, err := s.Chat.Chat(ctx, alice, a.ID, req, nil); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("Chat(%+v) = %v, want invalid", req, err)
		}
	}

	fa.fail = warder.Errorf(warder.ErrBadGateway, "the model API rejected LLM_API_KEY (HTTP 401)")
	if _, err := s.Chat.Chat(ctx, alice, b.ID, warder.ChatRequest{Content: "hi"}, nil); !errors.Is(err, warder.ErrBadGateway) {
		t.Fatalf("Chat with a failing agent = %v", err)
	}
	if _, err := s.Chat.Chat(ctx, alice, a.ID, warder.ChatRequest{Content: "more", ConversationID: cid}, nil); !errors.Is(err, warder.ErrBadGateway) {
		t.Fatalf("Chat with a failing agent = %v", err)
	}
	if convs, _ := s.Chat.Conversations(ctx, alice, b.ID, 10); len(convs) != 0 {
		t.Errorf("a failed first turn stored a conversation: %+v", convs)
	}
	if _, msgs, _ := s.Chat.Conversation(ctx, alice, a.ID, cid, 10); len(msgs) != 2 {
		t.Errorf("a failed turn was stored: %d messages", len(msgs))
	}
}

// TestChatHistoryBounded: only the latest messages that fit are sent.
func TestChatHistoryBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, fa := newChatService(t)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")
	big := strings.Repeat("x", 200<<10)
	c := &warder.Conversation{AgentID: a.ID, UserID: u.ID}
	msgs := []*warder.Message{{Role: "user", Content: "1" + big}, {Role: "assistant", Content: "2" + big}, {Role: "user", Content: "3" + big}}
	if err := s.Agents.store.CreateConversation(ctx, c, msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Chat.Chat(ctx, u, a.ID, warder.ChatRequest{Content: "4", ConversationID: c.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if h := fa.asked[0].Messages; len(h) != 2 || h[0].Content[0] != '2' || h[1].Content[0] != '3' {
		t.Fatalf("history sent has %d messages", len(h))
	}
}

// TestAwaitReadyGivesUp: an agent whose container exits while Warder
// waits for it fails at once, with the exit code, not after the timeout.
func TestAwaitReadyGivesUp(t *testing.T) {
	ctx := context.Background()
	s, rt, fa := newChatService(t)
	u := mustUser(t, s, "root")
	a := mustAgent(t, s, u, "a")
	a, err := s.Agents.StartAgent(ctx, u, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	fa.down = true
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 3})
	start := time.Now()
	_, err = s.Chat.AgentEndpoint(ctx, u, a.ID)
	if !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(err.Error(), "exited with code 3") || time.Since(start) > 3*time.Second {
		t.Fatalf("AgentEndpoint = %v after %v", err, time.Since(start))
	}
	s.Chat.cfg.ReadyTimeout = 300 * time.Millisecond
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseRunning})
	if _, err = s.Chat.AgentEndpoint(ctx, u, a.ID); !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(err.Error(), "did not answer at") {
		t.Fatalf("AgentEndpoint of a silent agent = %v", err)
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100)
	for in, want := range map[string]string{"  a\n b ": "a b", long: strings.Repeat("é", 79) + "…"} {
		if got := title(in); got != want {
			t.Errorf("title(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHealthObserved: the container's health check shows on the agent
// while it runs, and not once it stopped.
func TestHealthObserved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, rt, _ := newChatService(t)
	u := mustUser(t, s, "root")
	a, err := s.Agents.StartAgent(ctx, u, mustAgent(t, s, u, "a").ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"starting", "healthy", "unhealthy"} {
		rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseRunning, Health: h})
		if err := s.Observe.reconcile(ctx, a.ID, reconcileOpts{actor: "docker"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Agents.Agent(ctx, u, a.ID); got.Health != h || got.Status != warder.StatusRunning {
			t.Fatalf("health = %q (%s), want %q", got.Health, got.Status, h)
		}
	}
	rt.Set(a.ContainerID, warder.WorkloadState{Phase: warder.PhaseExited, Health: "unhealthy", ExitCode: 1})
	if err := s.Observe.reconcile(ctx, a.ID, reconcileOpts{actor: "docker"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Agents.Agent(ctx, u, a.ID); got.Health != "" || got.Status != warder.StatusExited {
		t.Fatalf("after exit: health %q, status %s", got.Health, got.Status)
	}
}
