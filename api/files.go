package api

import (
	"archive/tar"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/warder/warder"
)

// The files of an agent's workspace: GET a file's bytes, a directory's
// listing, or either as a tar (?format=tar); PUT a file's bytes, or a tar
// (Content-Type: application/x-tar or ?format=tar) extracted into a
// directory; DELETE. Bodies and answers stream; neither is held whole.

// uploadRoute is the route whose body is an upload: capped at the
// upload bound rather than MaxBodyBytes, and given longer to arrive.
const uploadRoute = "PUT /api/agents/{id}/files/{path...}"

// DefaultUploadTimeout is how long an upload's body may take to arrive.
const DefaultUploadTimeout = 30 * time.Minute

func (s *Server) wsService() (WorkspaceService, error) {
	if s.workspaces == nil {
		return nil, warder.Errorf(warder.ErrNotSupported, "this server has no workspaces")
	}
	return s.workspaces, nil
}

// wantTar reads ?format=: "tar", or "" for the default.
func wantTar(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "":
		return false, nil
	case "tar":
		return true, nil
	default:
		return false, warder.Errorf(warder.ErrInvalid, "format must be tar or absent, not %q", echoed(f))
	}
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ws, err := s.wsService()
	if err != nil {
		return err
	}
	asTar, err := wantTar(r)
	if err != nil {
		return err
	}
	id, p := r.PathValue("id"), r.PathValue("path")
	st, err := ws.StatFile(r.Context(), caller, id, p)
	if err != nil {
		return err
	}
	switch {
	case st.Type == warder.FileTypeDir && !asTar:
		list, err := ws.ListDir(r.Context(), caller, id, p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, list)
	case st.Type != warder.FileTypeDir && st.Type != warder.FileTypeFile:
		return warder.Errorf(warder.ErrInvalid, "%s is a %s: only files and directories can be read", echoed(st.Path), st.Type)
	}
	ctx, cancel, err := s.streamContext(r, caller)
	if err != nil {
		return err
	}
	defer cancel()
	rc, err := ws.ReadTar(ctx, caller, id, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := st.Name
	if name == "" {
		name = "workspace"
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if asTar {
		h.Set("Content-Type", "application/x-tar")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".tar"}))
		w.WriteHeader(http.StatusOK)
		if _, err := io.Copy(w, rc); err != nil {
			abortBody(r, err)
		}
		return nil
	}
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return warder.Errorf(warder.ErrConflict, "%s changed while it was read: %v", echoed(st.Path), err)
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(hdr.Name)}))
	h.Set("Content-Length", strconv.FormatInt(hdr.Size, 10))
	w.WriteHeader(http.StatusOK)
	if n, err := io.Copy(w, tr); err != nil || n != hdr.Size {
		abortBody(r, err)
	}
	return nil
}

// abortBody ends an answer whose body failed midway so that the client
// sees a broken transfer (the connection closed before the body's end),
// never a short body that looks whole. The client's own leaving is not
// worth the abort.
func abortBody(r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) putFile(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ws, err := s.wsService()
	if err != nil {
		return err
	}
	asTar, err := wantTar(r)
	if err != nil {
		return err
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-tar" {
		asTar = true
	}
	body := uploadBody{r.Body}
	var res *warder.FileWritten
	if asTar {
		res, err = ws.WriteTarTo(r.Context(), caller, r.PathValue("id"), r.PathValue("path"), body)
	} else {
		res, err = ws.WriteFile(r.Context(), caller, r.PathValue("id"), r.PathValue("path"), body, r.ContentLength)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// uploadBody turns the body cap's error into the API's 413.
type uploadBody struct{ io.Reader }

func (b uploadBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = warder.Errorf(warder.ErrTooLarge, "the upload is larger than the bound (WARDER_MAX_UPLOAD_BYTES)")
	}
	return n, err
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ws, err := s.wsService()
	if err != nil {
		return err
	}
	if err := ws.RemoveFile(r.Context(), caller, r.PathValue("id"), r.PathValue("path")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "deleted"})
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ws, err := s.wsService()
	if err != nil {
		return err
	}
	list, err := ws.Workspaces(r.Context(), caller)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.WorkspacesResponse{Workspaces: list})
}

func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ws, err := s.wsService()
	if err != nil {
		return err
	}
	if err := ws.DeleteWorkspace(r.Context(), caller, r.PathValue("name")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.MessageResponse{Message: "Workspace deleted"})
}
