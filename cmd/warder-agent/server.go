package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"
)

// maxBodyBytes caps a /chat request; the built-in model needs no more.
const maxBodyBytes = 64 << 10

// agent is who this container is, as Warder told it through the env.
type agent struct {
	ID, Name, Type string
}

type chatRequest struct {
	Content string `json:"content"`
	Role    string `json:"role"`
}

type chatResponse struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func newHandler(a agent, logger *log.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", a.health)
	mux.HandleFunc("POST /chat", a.chat)
	return logRequests(logger, mux)
}

func (a agent) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"status": "ok", "agent_id": a.ID, "agent_name": a.Name, "agent_type": a.Type,
	})
}

// chat decodes leniently (unknown fields are ignored) so a caller that
// sends fields meant for richer agents still gets an answer.
func (a agent) chat(w http.ResponseWriter, r *http.Request) {
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
	writeJSON(w, http.StatusOK, chatResponse{Role: "assistant", Content: a.reply(req.Content)})
}

// reply is the offline built-in model: deterministic, and plain about
// being one, so nobody mistakes it for a real model's answer.
func (a agent) reply(content string) string {
	name := a.Name
	if name == "" {
		name = "this agent"
	}
	return fmt.Sprintf("[offline built-in model] I am %s, running Warder's default agent without a language model, so I can only echo you. You said: %q", name, content)
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

// logRequests writes one stdout line per request, which docker logs shows.
func logRequests(logger *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.Printf("%s %s %d %s", r.Method, quote(r.URL.Path), rec.status, time.Since(start).Round(time.Microsecond))
	})
}
