package service

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/warder/warder"
)

// Chat is talking to agents through Warder, and reaching their port
// through its proxy; a stopped agent is started on demand.
type Chat struct {
	*core
	agents *Agents
	client warder.AgentClient // nil refuses chat and proxy
	cfg    ChatConfig
}

// ChatConfig is what chat needs.
type ChatConfig struct {
	// ReadyTimeout bounds the wait for an agent to answer on its port
	// after an on-demand start (default 30 s).
	ReadyTimeout time.Duration
}

func newChat(c *core, agents *Agents, client warder.AgentClient, cfg ChatConfig) *Chat {
	return &Chat{core: c, agents: agents, client: client, cfg: cfg}
}

// What of a conversation an agent is sent: the latest messages, at most
// this many and this many bytes, so a long conversation stays within what
// the agent accepts (the default agent takes 1 MiB per request).
const (
	historyMessages = 100
	historyBytes    = 512 << 10
	// conversationBytes bounds what one read of a conversation holds: the
	// latest messages that fit whole, however many were asked for.
	conversationBytes = 16 << 20
	titleRunes        = 80
)

// Chat sends one message to the agent, with the conversation so far, and
// stores the turn once the answer is complete.
func (s *Chat) Chat(ctx context.Context, caller *warder.User, agentID string, req warder.ChatRequest, onDelta func(warder.ChatDelta) error) (*warder.ChatReply, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := actsOnAgent(caller, "chat with"); err != nil {
		return nil, err
	}
	a, err := s.owned(ctx, caller, agentID)
	if err != nil {
		return nil, err
	}
	convID, history, err := s.history(ctx, a.ID, req.ConversationID)
	if err != nil {
		return nil, err
	}
	asked := time.Now().UTC()
	base, err := s.reach(ctx, caller, a, "chat")
	if err != nil {
		return nil, err
	}
	var stream func(string) error
	if onDelta != nil {
		stream = func(piece string) error { return onDelta(warder.ChatDelta{ConversationID: convID, Content: piece}) }
	}
	ans, err := s.client.Chat(ctx, base, warder.AgentChat{Content: req.Content, Role: req.Role, Messages: history}, stream)
	if err != nil {
		return nil, err
	}
	s.touch(ctx, a) // a long answer is use too
	// Stored as text: an agent's NUL or stray bytes must not cost the turn.
	ans.Content, ans.Model = warder.StorableText(ans.Content), warder.StorableText(ans.Model)
	msgs := []*warder.Message{
		{Role: warder.RoleUserMessage, Content: req.Content, CreatedAt: asked},
		{Role: warder.RoleAssistantMessage, Content: ans.Content, Model: ans.Model, CreatedAt: time.Now().UTC()},
	}
	// The answer is stored even if the caller has just gone away.
	sctx := context.WithoutCancel(ctx)
	if req.ConversationID == "" {
		c := &warder.Conversation{ID: convID, AgentID: a.ID, UserID: caller.ID, Title: title(req.Content)}
		err = s.store.CreateConversation(sctx, c, msgs)
	} else {
		err = s.store.AppendMessages(sctx, convID, msgs)
	}
	if err != nil {
		return nil, err
	}
	return &warder.ChatReply{ConversationID: convID, Role: warder.RoleAssistantMessage, Content: ans.Content, Model: ans.Model}, nil
}

// history returns the conversation's id (a new one when id is "") and its
// latest messages, as the agent is sent them. A conversation of another
// agent is not found, as one that does not exist.
func (s *Chat) history(ctx context.Context, agentID, id string) (string, []warder.AgentMessage, error) {
	if id == "" {
		return uuid.NewString(), []warder.AgentMessage{}, nil
	}
	c, err := s.store.Conversation(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if c.AgentID != agentID {
		return "", nil, warder.Errorf(warder.ErrNotFound, "conversation not found")
	}
	// The latest messages that fit, whole: read so, not all then cut.
	msgs, err := s.store.Messages(ctx, id, historyMessages, historyBytes)
	if err != nil {
		return "", nil, err
	}
	out := make([]warder.AgentMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, warder.AgentMessage{Role: m.Role, Content: m.Content})
	}
	return id, out, nil
}

// title is the start of a conversation's first message, on one line.
func title(content string) string {
	t := strings.Join(strings.Fields(content), " ")
	if utf8.RuneCountInString(t) <= titleRunes {
		return t
	}
	return string([]rune(t)[:titleRunes-1]) + "…"
}

// Conversations lists the agent's conversations, most recent first.
func (s *Chat) Conversations(ctx context.Context, caller *warder.User, agentID string, limit int) ([]*warder.Conversation, error) {
	if _, err := s.visible(ctx, caller, agentID); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, warder.Errorf(warder.ErrInvalid, "limit must be between 1 and 1000")
	}
	return s.store.ListConversations(ctx, agentID, limit)
}

// Conversation returns one of the agent's conversations with its latest
// limit messages.
func (s *Chat) Conversation(ctx context.Context, caller *warder.User, agentID, conversationID string, limit int) (*warder.Conversation, []*warder.Message, error) {
	if _, err := s.visible(ctx, caller, agentID); err != nil {
		return nil, nil, err
	}
	if _, err := uuid.Parse(conversationID); err != nil {
		return nil, nil, warder.Errorf(warder.ErrInvalid, "conversation id %q is not a valid id", conversationID)
	}
	if limit < 1 || limit > 10000 {
		return nil, nil, warder.Errorf(warder.ErrInvalid, "limit must be between 1 and 10000")
	}
	c, err := s.store.Conversation(ctx, conversationID)
	if err != nil {
		return nil, nil, err
	}
	if c.AgentID != agentID {
		return nil, nil, warder.Errorf(warder.ErrNotFound, "conversation not found")
	}
	msgs, err := s.store.Messages(ctx, conversationID, limit, conversationBytes)
	if err != nil {
		return nil, nil, err
	}
	return c, msgs, nil
}

// AgentEndpoint makes the agent ready and returns its base URL.
func (s *Chat) AgentEndpoint(ctx context.Context, caller *warder.User, agentID string) (*url.URL, error) {
	if err := actsOnAgent(caller, "reach through the proxy"); err != nil {
		return nil, err
	}
	a, err := s.owned(ctx, caller, agentID)
	if err != nil {
		return nil, err
	}
	return s.reach(ctx, caller, a, "proxy")
}

// actsOnAgent refuses a read-only key: chat and the proxy act on the
// agent (they may start it, and what they send can change its state).
func actsOnAgent(caller *warder.User, what string) error {
	if caller.ReadOnly {
		return warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot %s an agent", what)
	}
	return nil
}

// reach records use of the agent, starts it if it is not running, and
// waits until it answers on its port; it returns the port's base URL.
func (s *Chat) reach(ctx context.Context, caller *warder.User, a *warder.Agent, cause string) (*url.URL, error) {
	if s.client == nil {
		return nil, warder.Errorf(warder.ErrUnavailable, "this Warder is not set up to talk to agents")
	}
	s.touch(ctx, a)
	a, err := s.agents.wake(ctx, caller, a, cause)
	if err != nil {
		return nil, err
	}
	if a.Status != warder.StatusRunning || a.ContainerID == "" {
		started, err := s.locked(ctx, caller, a.ID, func(a *warder.Agent) error {
			if a.Status == warder.StatusRunning && a.ContainerID != "" {
				return nil // started by someone else meanwhile
			}
			err := s.agents.start(ctx, caller, a)
			s.agents.auditStart(ctx, caller, a, cause, err)
			return err
		})
		if err != nil {
			return nil, err
		}
		if started.Status != warder.StatusRunning {
			return nil, warder.Errorf(warder.ErrConflict, "the agent could not be started: it is %s (%s)", started.Status, started.StatusReason)
		}
		a = started
	}
	ep, err := s.Endpoint(ctx, a)
	if err != nil {
		return nil, err
	}
	base := &url.URL{Scheme: "http", Host: ep}
	if a.Health == "healthy" {
		// It has answered its health probes (a paused agent, resumed,
		// answers at once too): no wait, and no probe on this request's
		// path.
		return base, nil
	}
	return base, s.awaitReady(ctx, a, base)
}

// awaitReady polls the agent's /health until it answers. A container that
// stops meanwhile ends the wait at once, rather than after the timeout.
func (s *Chat) awaitReady(ctx context.Context, a *warder.Agent, base *url.URL) error {
	timeout := s.cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	delay, inspected := 50*time.Millisecond, time.Now()
	for {
		err := s.client.Health(ctx, base)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if time.Now().After(deadline) {
			return warder.Errorf(warder.ErrBadGateway, "the agent did not answer at %s within %s: %s", base.Host, timeout, errText(err))
		}
		if time.Since(inspected) > time.Second {
			inspected = time.Now()
			st, ierr := s.rt.Inspect(ctx, a.ContainerID)
			switch {
			case errors.Is(ierr, warder.ErrNotFound):
				return warder.Errorf(warder.ErrBadGateway, "the agent's container was removed before it answered")
			case ierr == nil && !st.Running():
				return warder.Errorf(warder.ErrBadGateway, "the agent's container exited with code %d before it answered; see its logs", st.ExitCode)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}
