package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/warder/warder"
)

// chatAgent is POST /api/agents/{id}/chat. Asked to stream ("stream": true,
// or Accept: text/event-stream) it answers with Server-Sent Events: one
// {"content": piece} event per piece, then "done" with the whole reply, or
// "error" {"detail"} if the answer fails after it began. A failure before
// the first piece is an ordinary error response either way.
func (s *Server) chatAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var req warder.ChatRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	req.Stream = req.Stream || acceptsEventStream(r)
	// A chat, streamed or not, holds one of the caller's stream slots: an
	// answer can take minutes and holds its history meanwhile.
	release, err := s.streams.hold(caller.ID)
	if err != nil {
		return err
	}
	defer release()
	if !req.Stream {
		reply, err := s.chat.Chat(r.Context(), caller, r.PathValue("id"), req, nil)
		if err != nil && credentialEnded(r) {
			return errCredentialEnded
		}
		if err != nil && r.Context().Err() != nil {
			return nil // the caller has gone: no one to answer
		}
		if err != nil {
			return err
		}
		w.Header().Set("X-Conversation-ID", reply.ConversationID)
		return writeJSON(w, http.StatusOK, reply)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	cs := &chatStream{w: w, gone: cancel}
	defer cs.close()
	reply, err := s.chat.Chat(ctx, caller, r.PathValue("id"), req, cs.delta)
	switch {
	case err != nil && credentialEnded(r) && cs.st == nil:
		return errCredentialEnded
	case err != nil && credentialEnded(r):
		cs.st.event("error", warder.ErrorResponse{Detail: warder.ErrorMessage(errCredentialEnded)})
		return nil
	case err != nil && r.Context().Err() != nil:
		return nil // the caller has gone: no one to answer
	case err != nil && cs.st == nil:
		return err
	case err != nil:
		cs.st.event("error", warder.ErrorResponse{Detail: s.streamError(r, err)})
		return nil
	}
	cs.open(reply.ConversationID)
	cs.st.event("done", reply)
	return nil
}

// streamError is what a stream's error event says of err: its message, or
// for an internal error the request id it is logged under.
func (s *Server) streamError(r *http.Request, err error) string {
	if msg := warder.ErrorMessage(err); msg != "" {
		return msg
	}
	reqID := r.Header.Get("X-Request-ID")
	// The logger adds the request id from the context.
	s.log.ErrorContext(r.Context(), "internal error in a stream", "path", r.URL.Path, "err", err)
	return "internal error (request id " + reqID + ")"
}

// chatStream opens the event stream with the first piece, so an error
// before it can still be an ordinary response; from then on keep-alives
// find a caller that has gone, and end the answer.
type chatStream struct {
	w         http.ResponseWriter
	gone      func()
	st        *stream
	stopAlive func()
}

func (c *chatStream) open(conversationID string) {
	if c.st != nil {
		return
	}
	c.w.Header().Set("X-Conversation-ID", conversationID)
	c.st = openSSE(c.w)
	c.stopAlive = c.st.keepAlive(keepAliveEvery, c.gone)
}

func (c *chatStream) delta(d warder.ChatDelta) error {
	c.open(d.ConversationID)
	return c.st.event("", warder.ChatPiece{Content: d.Content})
}

func (c *chatStream) close() {
	if c.st != nil {
		c.stopAlive()
		c.st.close()
	}
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	limit, err := limitParam(r, 100)
	if err != nil {
		return err
	}
	list, err := s.chat.Conversations(r.Context(), caller, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.ConversationsResponse{Conversations: list})
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	limit, err := limitParam(r, 1000)
	if err != nil {
		return err
	}
	c, msgs, err := s.chat.Conversation(r.Context(), caller, r.PathValue("id"), r.PathValue("cid"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.ConversationDetail{Conversation: c, Messages: msgs})
}

// limitParam reads ?limit=, def when absent; the service checks the range.
func limitParam(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, warder.Errorf(warder.ErrInvalid, "limit must be a whole number, not %q", v)
	}
	return n, nil
}
