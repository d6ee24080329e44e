package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/warder/warder"
	"github.com/warder/warder/wire"
)

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var req warder.AgentCreate
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := s.agents.CreateAgent(r.Context(), caller, req)
	if err != nil {
		return err
	}
	noteAgent(w, a.ID)
	if req.ContainerConfig.AutoStart {
		if a, err = s.autoStart(r, caller, a); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusCreated, a)
}

// listAgents answers the seed's plain JSON list. A page (?limit=) names
// the next one in headers, so the body keeps its shape: X-Next-Cursor
// holds the cursor, Link the next page's URL (rel="next"); neither is sent
// after the last page.
func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	q, err := agentQuery(r.URL.Query())
	if err != nil {
		return err
	}
	page, err := s.agents.ListAgents(r.Context(), caller, q)
	if err != nil {
		return err
	}
	if page.Next != "" {
		next := r.URL.Query()
		next.Set("cursor", page.Next)
		w.Header().Set("X-Next-Cursor", page.Next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	return writeJSON(w, http.StatusOK, wire.AgentsWire(page.Agents))
}

// agentQuery reads GET /api/agents's query: limit, cursor, status (a
// comma-separated list, or repeated), name, name_prefix and user_id. An
// empty value is the same as none; the service checks the rest.
func agentQuery(v url.Values) (warder.AgentQuery, error) {
	q := warder.AgentQuery{Name: v.Get("name"), NamePrefix: v.Get("name_prefix"), UserID: v.Get("user_id"), Cursor: v.Get("cursor")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > warder.MaxAgentPage {
			return q, warder.Errorf(warder.ErrInvalid, "limit must be a whole number between 1 and %d, not %q", warder.MaxAgentPage, echoed(s))
		}
		q.Limit = n
	}
	for _, list := range v["status"] {
		for st := range strings.SplitSeq(list, ",") {
			if st = strings.TrimSpace(st); st != "" {
				q.Statuses = append(q.Statuses, warder.Status(st))
			}
		}
	}
	return q, nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	a, err := s.agents.Agent(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) replaceAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var req warder.AgentReplace
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := s.agents.ReplaceAgent(r.Context(), caller, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) updateAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var req warder.AgentUpdate
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := s.agents.UpdateAgent(r.Context(), caller, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var opts warder.DeleteOptions
	if v := r.URL.Query().Get("keep_workspace"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return warder.Errorf(warder.ErrInvalid, "keep_workspace must be true or false, not %q", echoed(v))
		}
		opts.KeepWorkspace = b
	}
	if v := r.URL.Query().Get("keep_snapshots"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return warder.Errorf(warder.ErrInvalid, "keep_snapshots must be true or false, not %q", echoed(v))
		}
		opts.KeepSnapshots = b
	}
	del := s.agents.DeleteAgentWith
	if s.snapshots != nil {
		del = s.snapshots.DeleteAgent // and the agent's snapshots, unless kept
	}
	if err := del(r.Context(), caller, r.PathValue("id"), opts); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Agent deleted successfully"})
}

func (s *Server) startAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if _, err := s.agents.StartAgent(r.Context(), caller, r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Agent container started successfully"})
}

func (s *Server) stopAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if _, err := s.agents.StopAgent(r.Context(), caller, r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Agent container stopped successfully"})
}

func (s *Server) restartAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if _, err := s.agents.RestartAgent(r.Context(), caller, r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Agent container restarted successfully"})
}

// pauseAgent freezes the agent; the answer is the agent, now paused.
func (s *Server) pauseAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	a, err := s.agents.PauseAgent(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

// resumeAgent thaws the agent; the answer is the agent, running again.
func (s *Server) resumeAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	a, err := s.agents.ResumeAgent(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) agentLogs(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	opts := warder.LogOptions{Lines: 100}
	q := r.URL.Query()
	if v := q.Get("lines"); v == "all" {
		opts.Lines = warder.AllLines
	} else if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return warder.Errorf(warder.ErrInvalid, "lines must be a whole number or all, not %q", v)
		}
		opts.Lines = n // the service checks the range
	}
	if v := q.Get("timestamps"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return warder.Errorf(warder.ErrInvalid, "timestamps must be true or false, not %q", v)
		}
		opts.Timestamps = b
	}
	if err := parseLogQuery(q, &opts); err != nil {
		return err
	}
	if opts.Follow || acceptsEventStream(r) {
		return s.streamLogs(w, r, caller, opts)
	}
	logs, err := s.observe.AgentLogs(r.Context(), caller, r.PathValue("id"), opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.LogsResponse{Logs: logs})
}

func (s *Server) agentStats(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if q := r.URL.Query(); q.Has("history") || q.Has("stream") || acceptsEventStream(r) {
		return s.liveStats(w, r, caller)
	}
	st, err := s.observe.AgentStats(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.StatsResponse{Stats: statsView(st)})
}

func (s *Server) agentEvents(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return warder.Errorf(warder.ErrInvalid, "limit must be a whole number, not %q", v)
		}
		limit = n
	}
	events, err := s.observe.AgentEvents(r.Context(), caller, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.AgentEventsResponse{Events: events})
}

// autoStart starts an agent created with container_config.auto_start and
// returns it as it is then. A start that fails leaves the agent created,
// and the error says so, with the start's own status (409 for a quota,
// 503 when Docker is down, ...), so a caller that retries does not
// create it twice.
func (s *Server) autoStart(r *http.Request, caller *warder.User, a *warder.Agent) (*warder.Agent, error) {
	if _, err := s.agents.StartAgent(r.Context(), caller, a.ID); err != nil {
		if _, kind := statusOf(err); kind != nil && warder.ErrorMessage(err) != "" {
			return nil, warder.Errorf(kind, "agent %q was created (id %s) but did not start: %s", a.Name, a.ID, warder.ErrorMessage(err))
		}
		return nil, fmt.Errorf("agent %s was created but did not start: %w", a.ID, err)
	}
	return s.agents.Agent(r.Context(), caller, a.ID)
}
