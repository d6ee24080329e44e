package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"
)

// maxBodyBytes caps a /chat request: the message and the conversation so
// far (Warder sends at most 512 KiB of history).
const maxBodyBytes = 1 << 20

// agent is who this container is, as Warder told it through the env, and
// the model it answers with.
type agent struct {
	ID, Name, Type string
	SystemPrompt   string
	// Model answers; nil means the offline built-in model.
	Model chatModel
	// Echo serves /echo/ (WARDER_AGENT_ECHO), for tests of proxies.
	Echo bool
	// ChatFlood answers every chat with a flood of this kind
	// (WARDER_AGENT_CHAT_FLOOD), for tests of Warder's bounds.
	ChatFlood string
}

// chatModel answers a conversation: the offline model or an
// OpenAI-compatible API.
type chatModel interface {
	name() string
	// complete answers msgs; with onDelta set it streams each piece to
	// it. Failures worded for the user are *upstreamError.
	complete(ctx context.Context, msgs []message, onDelta func(string) error) (reply, error)
	// status reports whether the model answers: "ok", "offline", or
	// "error" and why.
	status(ctx context.Context) (state, detail string)
}

// message is one message of a conversation, as chat-completions APIs and
// Warder both write it.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type reply struct {
	Content string
	Model   string
}

type chatRequest struct {
	Content  string    `json:"content"`
	Role     string    `json:"role"`
	Stream   bool      `json:"stream"`
	Messages []message `json:"messages"`
}

type chatResponse struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Model   string `json:"model"`
}

func newHandler(a agent, logger *log.Logger) http.Handler {
	if a.Model == nil {
		a.Model = offlineModel{agentName: a.Name}
	}
	s := &server{agent: a, log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("POST /chat", s.chat)
	if a.Echo {
		mux.HandleFunc("/echo/", echo)
	}
	return logRequests(logger, mux)
}

type server struct {
	agent
	log *log.Logger
}

// health answers 200 while the agent serves, whatever the model API does:
// Docker's health check is about this process. The body says whether the
// model API answers.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	state, detail := s.Model.status(r.Context())
	body := map[string]string{
		"status": "ok", "agent_id": s.ID, "agent_name": s.Name, "agent_type": s.Type,
		"model": s.Model.name(), "upstream": state,
	}
	if detail != "" {
		body["upstream_detail"] = detail
	}
	writeJSON(w, http.StatusOK, body)
}

// chat decodes leniently (unknown fields are ignored) so a caller that
// sends fields meant for richer agents still gets an answer.
func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	// An answer may stream for longer than the server's write timeout.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	var req chatRequest
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&req)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeDetail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over %d bytes", maxBodyBytes))
		return
	case err != nil:
		writeDetail(w, http.StatusBadRequest, "request body is not valid JSON: "+err.Error())
		return
	case strings.TrimSpace(req.Content) == "":
		writeDetail(w, http.StatusBadRequest, "content is required")
		return
	case req.Role != "" && req.Role != "user":
		writeDetail(w, http.StatusBadRequest, `role must be "user"`)
		return
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			writeDetail(w, http.StatusBadRequest, fmt.Sprintf(`messages[%d].role must be "user" or "assistant"`, i))
			return
		}
	}
	if s.ChatFlood != "" {
		flood(w, s.ChatFlood)
		return
	}
	msgs := s.conversation(req)
	if !req.Stream {
		rep, err := s.Model.complete(r.Context(), msgs, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, chatResponse{Role: "assistant", Content: rep.Content, Model: rep.Model})
		return
	}
	sse := newSSEWriter(w)
	rep, err := s.Model.complete(r.Context(), msgs, sse.delta)
	if err != nil {
		if !sse.started {
			s.fail(w, r, err)
			return
		}
		s.logFailure(r, err)
		sse.event("error", map[string]string{"detail": detailOf(err)})
		return
	}
	sse.event("done", chatResponse{Role: "assistant", Content: rep.Content, Model: rep.Model})
}

// conversation is what the model is asked: the system prompt, the
// conversation so far, and the new message.
func (s *server) conversation(req chatRequest) []message {
	msgs := make([]message, 0, len(req.Messages)+2)
	if s.SystemPrompt != "" {
		msgs = append(msgs, message{Role: "system", Content: s.SystemPrompt})
	}
	msgs = append(msgs, req.Messages...)
	return append(msgs, message{Role: "user", Content: req.Content})
}

// fail answers a failed chat: 502 with the reason for a model API failure.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.logFailure(r, err)
	if r.Context().Err() != nil {
		return // the caller has gone
	}
	writeDetail(w, http.StatusBadGateway, detailOf(err))
}

func (s *server) logFailure(r *http.Request, err error) {
	if r.Context().Err() == nil {
		s.log.Printf("chat failed: %s", detailOf(err))
	}
}

// detailOf is what a caller may read of err. Only upstreamError's words
// are meant for users; anything else is summed up.
func detailOf(err error) string {
	var ue *upstreamError
	if errors.As(err, &ue) {
		return ue.msg
	}
	var ce *clientError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return "the agent failed: " + err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (to flush a
// stream and lift its write deadline).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests writes one stdout line per request, which docker logs shows,
// except a health check that passed: Warder (or the kubelet) asks every
// running agent's /health every 10 to 30 s, and a line for each would
// bury the agent's own output in its logs, and cost the engine a log
// write per probe. A failed one is logged.
func logRequests(logger *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/health" && rec.status < 400 {
			return
		}
		logger.Printf("%s %s %d %s", r.Method, quote(r.URL.Path), rec.status, time.Since(start).Round(time.Microsecond))
	})
}
