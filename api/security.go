package api

import (
	"net/http"

	"github.com/warder/warder"
)

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var req warder.APIKeyCreate
	if err := decode(r, &req); err != nil {
		return err
	}
	k, secret, err := s.keys.CreateAPIKey(r.Context(), caller, req)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, warder.APIKeyCreated{APIKey: k, Key: secret})
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	keys, err := s.keys.APIKeys(r.Context(), caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys)
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if err := s.keys.DeleteAPIKey(r.Context(), caller, r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "API key revoked"})
}

func (s *Server) systemLimits(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	u, err := s.admin.Usage(r.Context(), caller, "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) systemStatus(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	st, err := s.admin.SystemStatus(r.Context(), caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	users, err := s.admin.ListUsers(r.Context(), caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, users)
}

// createUser is POST /api/admin/users: an admin makes a plain user, as
// registration would (the way in when registration is closed).
func (s *Server) createUser(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var req warder.RegisterRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := s.admin.CreateUser(r.Context(), caller, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, u)
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if err := s.admin.SetUserDisabled(r.Context(), caller, r.PathValue("id"), true); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "User disabled"})
}

func (s *Server) enableUser(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if err := s.admin.SetUserDisabled(r.Context(), caller, r.PathValue("id"), false); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "User enabled"})
}

func (s *Server) userLimits(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	if !caller.IsAdmin() {
		return warder.Errorf(warder.ErrForbidden, "only an admin may do this")
	}
	u, err := s.admin.Usage(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) setUserLimits(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	var l warder.Limits
	if err := decode(r, &l); err != nil {
		return err
	}
	u, err := s.admin.SetUserLimits(r.Context(), caller, r.PathValue("id"), l)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}
