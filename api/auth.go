package api

import (
	"errors"
	"mime"
	"net"
	"net/http"

	"github.com/warder/warder"
)

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	var req warder.RegisterRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := s.auth.Register(r.Context(), req, clientAddress(r))
	if err != nil {
		return err
	}
	noteUser(w, u) // for the audit log
	return writeJSON(w, http.StatusCreated, u)
}

// login takes JSON, or the OAuth2 password form FastAPI clients of the
// original Warder send (OAuth2PasswordRequestForm), as /api/auth/token does.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if isForm(r) {
		return s.tokenForm(w, r)
	}
	var req warder.LoginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	return s.issue(w, r, req.Username, req.Password)
}

// isForm reports whether r's body is a form, URL-encoded or multipart.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// tokenForm is the OAuth2 password flow: a form with username, password
// and optionally grant_type=password.
func (s *Server) tokenForm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if gt := r.PostForm.Get("grant_type"); gt != "" && gt != "password" {
		return warder.Errorf(warder.ErrInvalid, "unsupported grant_type %q; only \"password\" is supported", gt)
	}
	return s.issue(w, r, r.PostForm.Get("username"), r.PostForm.Get("password"))
}

// parseForm reads r's form body, URL-encoded or multipart.
func parseForm(r *http.Request) error {
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		err = r.ParseMultipartForm(MaxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return warder.Errorf(warder.ErrTooLarge, "request body is larger than %d bytes", tooBig.Limit)
		}
		return warder.Errorf(warder.ErrInvalid, "request body is not a valid form: %v", err)
	}
	return nil
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request, login, password string) error {
	sess, err := s.auth.Login(r.Context(), login, password, clientAddress(r))
	if err != nil {
		return err
	}
	return writeSession(w, sess)
}

// refresh exchanges a refresh token (JSON, or the OAuth2 refresh form with
// grant_type=refresh_token) for a new access token and refresh token.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) error {
	var req warder.RefreshRequest
	if isForm(r) {
		if err := parseForm(r); err != nil {
			return err
		}
		if gt := r.PostForm.Get("grant_type"); gt != "" && gt != "refresh_token" {
			return warder.Errorf(warder.ErrInvalid, "unsupported grant_type %q; only \"refresh_token\" is supported", gt)
		}
		req.RefreshToken = r.PostForm.Get("refresh_token")
	} else if err := decode(r, &req); err != nil {
		return err
	}
	sess, err := s.auth.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	return writeSession(w, sess)
}

// writeSession answers a login or a refresh.
func writeSession(w http.ResponseWriter, sess *warder.Session) error {
	resp := warder.TokenResponse{
		AccessToken:  sess.AccessToken,
		TokenType:    sess.TokenType,
		ExpiresIn:    int(sess.ExpiresIn.Seconds()),
		RefreshToken: sess.RefreshToken,
	}
	if u := sess.User; u != nil {
		noteUser(w, u) // for the audit log: a login issues a token
		resp.UserID, resp.Username, resp.Role = u.ID, u.Username, u.Role
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, resp)
}

// clientAddress is the address the request came from, for throttling: the
// connection's peer, never a header the client could set.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *warder.User) error {
	if err := s.auth.Logout(r.Context(), bearer(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Logged out"})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u *warder.User) error {
	return writeJSON(w, http.StatusOK, warder.Me{
		ID: u.ID, Username: u.Username, Email: u.Email, Role: u.Role, FirstName: u.FirstName, LastName: u.LastName,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Status: warder.StatusOf(u.Disabled),
	})
}
