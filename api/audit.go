package api

import (
	"net/http"
	"strconv"

	"github.com/warder/warder"
)

// auditLog lists audit entries for an admin: ?user= (id or username),
// ?agent=, ?since= and ?until= (see parseTime), ?limit= (default 100).
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if s.audit == nil {
		return warder.Errorf(warder.ErrNotFound, "the audit log is not kept on this server")
	}
	v := r.URL.Query()
	q := warder.AuditQuery{User: v.Get("user"), AgentID: v.Get("agent")}
	var err error
	if s := v.Get("since"); s != "" {
		if q.Since, err = parseTime("since", s); err != nil {
			return err
		}
	}
	if s := v.Get("until"); s != "" {
		if q.Until, err = parseTime("until", s); err != nil {
			return err
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil {
			return warder.Errorf(warder.ErrInvalid, "limit must be a whole number, not %q", s)
		}
	}
	list, err := s.audit.AuditLog(r.Context(), caller, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.AuditResponse{Entries: list})
}
