package opensandbox

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// Files are the agent's workspace, mounted at /data in the agent: execd's
// absolute paths under /data (or relative ones) are reached through
// Warder's files API, with its path rules and size bounds; a path
// elsewhere in the sandbox is a 400 saying so.

// maxUpload bounds an upload request's body; Warder's own upload bound
// (WARDER_MAX_UPLOAD_BYTES) and the workspace bounds apply within it.
const maxUpload = 8 << 30

// Bounds of the calls that walk or rewrite: entries a listing or search
// returns, how deep they go, and the size of a file replaced in memory.
const (
	maxEntries    = 10000
	maxDepth      = 16
	maxReplaceLen = 16 << 20
)

// wsPath turns an execd path into a workspace path ("" is its root).
func wsPath(p string) (string, error) {
	if p == "" {
		return "", badRequest("path is required")
	}
	root := warder.WorkspaceMountPath
	clean := path.Clean(p)
	switch {
	case !strings.HasPrefix(p, "/"):
		if clean == "." {
			return "", nil
		}
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return "", badRequest("%q leads out of the sandbox's workspace (%s)", p, root)
		}
		return clean, nil
	case clean == root:
		return "", nil
	case strings.HasPrefix(clean, root+"/"):
		return strings.TrimPrefix(clean, root+"/"), nil
	}
	return "", badRequest("%q is outside the sandbox's workspace: Warder's files reach %s (the agent's persistent workspace) only", p, root)
}

// absPath is a workspace path as execd shows it.
func absPath(rel string) string {
	if rel == "" {
		return warder.WorkspaceMountPath
	}
	return warder.WorkspaceMountPath + "/" + rel
}

// octalMode reads ls's mode string ("-rwxr-x---") as the spec's mode:
// the octal digits written as a decimal number (750).
func octalMode(s string) int {
	if len(s) < 10 {
		return 0
	}
	bits := 0
	for i, c := range s[1:10] {
		if c != '-' {
			bits |= 1 << (8 - i)
		}
	}
	n, _ := strconv.Atoi(strconv.FormatInt(int64(bits), 8))
	return n
}

// permOf reads the spec's mode (755 meaning 0755) as permission bits.
func permOf(mode int) (int64, error) {
	bits, err := strconv.ParseInt(strconv.Itoa(mode), 8, 64)
	if err != nil || mode < 0 || bits > 0o777 {
		return 0, badRequest("mode %d is not permission bits written in octal digits, like 755", mode)
	}
	return bits, nil
}

func toFileInfo(rel string, f *wire.FileInfo) fileInfo {
	t := f.Type
	if t == wire.FileTypeDir {
		t = "directory"
	}
	return fileInfo{Path: absPath(rel), Type: t, Size: f.Size, ModifiedAt: f.ModTime, CreatedAt: f.ModTime, Mode: octalMode(f.Mode)}
}

// stat describes one workspace path.
func stat(ctx context.Context, c *client.Client, id, rel string) (*wire.FileInfo, error) {
	if rel == "" {
		return &wire.FileInfo{Name: "", Path: "", Type: wire.FileTypeDir, Mode: "drwxr-xr-x"}, nil
	}
	dir := path.Dir(rel)
	if dir == "." {
		dir = ""
	}
	list, err := c.ListDir(ctx, id, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range list.Entries {
		if e.Name == path.Base(rel) {
			return e, nil
		}
	}
	return nil, apiErr(http.StatusNotFound, "FILE_NOT_FOUND", "no such file: "+absPath(rel))
}

func (h *Handler) fileInfo(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	out := map[string]fileInfo{}
	for _, p := range r.URL.Query()["path"] {
		rel, err := wsPath(p)
		if err != nil {
			return err
		}
		f, err := stat(r.Context(), c, id, rel)
		if err != nil {
			return err
		}
		out[p] = toFileInfo(rel, f)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deleteFiles(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	for _, p := range r.URL.Query()["path"] {
		rel, err := wsPath(p)
		if err != nil {
			return err
		}
		if rel == "" {
			return badRequest("the workspace root itself cannot be deleted")
		}
		if err := c.RemoveFile(r.Context(), id, rel); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteDirectory(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	return h.deleteFiles(w, r, c, id)
}

// walk lists dir's entries down to depth levels (1: the directory's own
// entries), at most maxEntries in all, calling fn with each.
func walk(ctx context.Context, c *client.Client, id, dir string, depth int, fn func(rel string, f *wire.FileInfo) error) error {
	seen := 0
	var visit func(dir string, level int) error
	visit = func(dir string, level int) error {
		list, err := c.ListDir(ctx, id, dir)
		if err != nil {
			return err
		}
		for _, e := range list.Entries {
			if seen++; seen > maxEntries {
				return apiErr(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", fmt.Sprintf("more than %d entries: ask for a smaller directory or depth", maxEntries))
			}
			rel := path.Join(dir, e.Name)
			if err := fn(rel, e); err != nil {
				return err
			}
			if e.Type == wire.FileTypeDir && level < depth {
				if err := visit(rel, level+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return visit(dir, 1)
}

func (h *Handler) listDirectory(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	q := r.URL.Query()
	rel, err := wsPath(q.Get("path"))
	if err != nil {
		return err
	}
	depth := 1
	if v := q.Get("depth"); v != "" {
		if depth, err = strconv.Atoi(v); err != nil || depth < 1 || depth > maxDepth {
			return badRequest("depth %q is not a number from 1 to %d", v, maxDepth)
		}
	}
	return answerWalk(w, r, c, id, rel, depth, func(*wire.FileInfo) bool { return true })
}

// answerWalk answers the entries below rel, to depth, that keep keeps.
func answerWalk(w http.ResponseWriter, r *http.Request, c *client.Client, id, rel string, depth int, keep func(*wire.FileInfo) bool) error {
	out := []fileInfo{}
	err := walk(r.Context(), c, id, rel, depth, func(p string, f *wire.FileInfo) error {
		if keep(f) {
			out = append(out, toFileInfo(p, f))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// searchFiles finds the entries below path whose name matches pattern
// (a glob; a leading **/ matches at any depth, as everything does).
func (h *Handler) searchFiles(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	q := r.URL.Query()
	rel, err := wsPath(q.Get("path"))
	if err != nil {
		return err
	}
	pattern := strings.TrimPrefix(q.Get("pattern"), "**/")
	if pattern == "" {
		pattern = "*"
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return badRequest("pattern %q is not a glob: %v", q.Get("pattern"), err)
	}
	return answerWalk(w, r, c, id, rel, maxDepth, func(f *wire.FileInfo) bool {
		ok, _ := path.Match(pattern, f.Name)
		return ok && f.Type != wire.FileTypeDir
	})
}

// createDirectory makes each directory (and its parents) with its mode,
// as a tar of directory entries extracted at the workspace root.
func (h *Handler) createDirectory(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	var req map[string]struct {
		Mode int `json:"mode"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	for p, opt := range req {
		rel, err := wsPath(p)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		mode := int64(0o755)
		if opt.Mode != 0 {
			if mode, err = permOf(opt.Mode); err != nil {
				return err
			}
		}
		if err := writeEntries(r.Context(), c, id, "", []*tar.Header{{Typeflag: tar.TypeDir, Name: rel + "/", Mode: mode}}); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// writeEntries extracts a tar of headers without contents into dir.
func writeEntries(ctx context.Context, c *client.Client, id, dir string, hdrs []*tar.Header) error {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	_, err := c.WriteTar(ctx, id, dir, pr)
	pr.Close()
	return err
}

// rewrite streams src (a file or a directory) as a tar through edit and
// extracts it into directory dir: the way a move and a chmod are done
// with Warder's files API, streamed, never held whole.
func rewrite(ctx context.Context, c *client.Client, id, src, dir string, edit func(*tar.Header)) error {
	rc, err := c.ReadTar(ctx, id, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() {
		tr, tw := tar.NewReader(rc), tar.NewWriter(pw)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err == nil {
				edit(hdr)
				err = tw.WriteHeader(hdr)
			}
			if err == nil {
				_, err = io.Copy(tw, tr)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	_, err = c.WriteTar(ctx, id, dir, pr)
	pr.Close()
	return err
}

func parentOf(rel string) string {
	if d := path.Dir(rel); d != "." {
		return d
	}
	return ""
}

// setPermissions changes each path's mode (the path itself, as chmod
// does). Owner and group cannot be changed: every file is the agent's
// user's.
func (h *Handler) setPermissions(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	var req map[string]permission
	if err := decode(r, &req); err != nil {
		return err
	}
	for p, perm := range req {
		if perm.Owner != "" || perm.Group != "" {
			return badRequest("owner and group cannot be changed: every file of the workspace belongs to the agent's own user")
		}
		rel, err := wsPath(p)
		if err != nil {
			return err
		}
		bits, err := permOf(perm.Mode)
		if err != nil {
			return err
		}
		f, err := stat(r.Context(), c, id, rel)
		if err != nil {
			return err
		}
		if rel == "" || f.Type == wire.FileTypeDir {
			err = writeEntries(r.Context(), c, id, parentOf(rel), []*tar.Header{{Typeflag: tar.TypeDir, Name: path.Base(rel) + "/", Mode: bits}})
		} else {
			err = rewrite(r.Context(), c, id, rel, parentOf(rel), func(h *tar.Header) { h.Mode = bits })
		}
		if err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// moveFiles moves each src to dest: copied as a tar stream under its
// new name, then the source removed.
func (h *Handler) moveFiles(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	var req []moveItem
	if err := decode(r, &req); err != nil {
		return err
	}
	for _, m := range req {
		src, err := wsPath(m.Src)
		if err != nil {
			return err
		}
		dest, err := wsPath(m.Dest)
		if err != nil {
			return err
		}
		if src == "" || dest == "" || dest == src || strings.HasPrefix(dest, src+"/") {
			return badRequest("cannot move %q to %q", m.Src, m.Dest)
		}
		oldBase, newBase := path.Base(src), path.Base(dest)
		err = rewrite(r.Context(), c, id, src, parentOf(dest), func(h *tar.Header) {
			if h.Name == oldBase || strings.HasPrefix(h.Name, oldBase+"/") {
				h.Name = newBase + strings.TrimPrefix(h.Name, oldBase)
			}
		})
		if err != nil {
			return err
		}
		if err := c.RemoveFile(r.Context(), id, src); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// replaceInFiles replaces text in files of at most 16 MiB.
func (h *Handler) replaceInFiles(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	var req map[string]replaceItem
	if err := decode(r, &req); err != nil {
		return err
	}
	counts := map[string]map[string]int{}
	for p, it := range req {
		rel, err := wsPath(p)
		if err != nil {
			return err
		}
		if it.Old == "" {
			return badRequest("old is required for %q", p)
		}
		rc, err := c.ReadFile(r.Context(), id, rel)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxReplaceLen+1))
		rc.Close()
		if err != nil {
			return err
		}
		if len(b) > maxReplaceLen {
			return apiErr(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", fmt.Sprintf("%s is over %d MiB: replace in it with a command", p, maxReplaceLen>>20))
		}
		n := strings.Count(string(b), it.Old)
		if n > 0 {
			if _, err := c.WriteFile(r.Context(), id, rel, strings.NewReader(strings.ReplaceAll(string(b), it.Old, it.New))); err != nil {
				return err
			}
		}
		counts[p] = map[string]int{"replacedCount": n}
	}
	if r.URL.Query().Get("verbose") == "true" {
		writeJSON(w, http.StatusOK, counts)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// uploadFiles reads the multipart body part by part, as it arrives: a
// "metadata" part (the path, and a mode) and then its "file" part,
// streamed into the workspace.
func (h *Handler) uploadFiles(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return badRequest("the body must be multipart/form-data with metadata and file parts")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var meta *fileMetadata
	files := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return badRequest("the multipart body is broken: %v", err)
		}
		switch part.FormName() {
		case "metadata":
			meta = &fileMetadata{}
			if err := json.NewDecoder(io.LimitReader(part, 64<<10)).Decode(meta); err != nil {
				return badRequest("a metadata part is not JSON with a path: %v", err)
			}
		case "file":
			if meta == nil {
				return badRequest("a file part must follow its metadata part")
			}
			if err := uploadOne(r.Context(), c, id, *meta, part); err != nil {
				return err
			}
			meta, files = nil, files+1
		default:
			return badRequest("unknown part %q: parts are metadata and file", part.FormName())
		}
	}
	if files == 0 {
		return badRequest("no file part")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func uploadOne(ctx context.Context, c *client.Client, id string, meta fileMetadata, body io.Reader) error {
	if meta.Owner != "" || meta.Group != "" {
		return badRequest("owner and group cannot be set: every file of the workspace belongs to the agent's own user")
	}
	rel, err := wsPath(meta.Path)
	if err != nil {
		return err
	}
	if rel == "" {
		return badRequest("path %q names the workspace itself, not a file", meta.Path)
	}
	if _, err := c.WriteFile(ctx, id, rel, body); err != nil {
		return err
	}
	if meta.Mode == 0 {
		return nil
	}
	bits, err := permOf(meta.Mode)
	if err != nil {
		return err
	}
	return rewrite(ctx, c, id, rel, parentOf(rel), func(h *tar.Header) { h.Mode = bits })
}

// downloadFile streams a file, or the byte range asked for (Range:
// bytes=a-b, a-, -n; or offset and limit) as 206 Partial Content.
func (h *Handler) downloadFile(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	q := r.URL.Query()
	rel, err := wsPath(q.Get("path"))
	if err != nil {
		return err
	}
	f, err := stat(r.Context(), c, id, rel)
	if err != nil {
		return err
	}
	if f.Type != wire.FileTypeFile {
		return badRequest("%s is a %s, not a file", absPath(rel), f.Type)
	}
	start, end, partial, err := byteRange(r.Header.Get("Range"), q.Get("offset"), q.Get("limit"), f.Size)
	if err != nil {
		return err
	}
	rc, err := c.ReadFile(r.Context(), id, rel)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, start); err != nil {
		return apiErr(http.StatusConflict, "CONFLICT", absPath(rel)+" changed while it was read")
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(rel)}))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Content-Length", strconv.FormatInt(end-start, 10))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, f.Size))
	}
	w.WriteHeader(status)
	_, _ = io.CopyN(w, rc, end-start)
	return nil
}

// byteRange reads the range asked of a file of size bytes as [start,
// end), and whether it is a part.
func byteRange(header, offset, limit string, size int64) (start, end int64, partial bool, err error) {
	start, end = 0, size
	if header == "" && offset == "" && limit == "" {
		return 0, size, false, nil
	}
	unsatisfiable := func() error {
		return apiErr(http.StatusRequestedRangeNotSatisfiable, "RANGE_NOT_SATISFIABLE", fmt.Sprintf("the range asked is not within the file's %d bytes", size))
	}
	if header != "" {
		spec, ok := strings.CutPrefix(header, "bytes=")
		if !ok || strings.Contains(spec, ",") {
			return 0, 0, false, badRequest("Range %q is not one range of bytes", header)
		}
		a, b, _ := strings.Cut(spec, "-")
		switch {
		case a == "": // the last b bytes
			n, err := strconv.ParseInt(b, 10, 64)
			if err != nil || n <= 0 {
				return 0, 0, false, badRequest("Range %q is not a range of bytes", header)
			}
			start = max(0, size-n)
		default:
			if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 {
				return 0, 0, false, badRequest("Range %q is not a range of bytes", header)
			}
			if b != "" {
				last, err := strconv.ParseInt(b, 10, 64)
				if err != nil || last < start {
					return 0, 0, false, badRequest("Range %q is not a range of bytes", header)
				}
				end = min(size, last+1)
			}
		}
	} else {
		if offset != "" {
			if start, err = strconv.ParseInt(offset, 10, 64); err != nil || start < 0 {
				return 0, 0, false, badRequest("offset %q is not a byte offset", offset)
			}
		}
		if limit != "" {
			n, err := strconv.ParseInt(limit, 10, 64)
			if err != nil || n < 0 {
				return 0, 0, false, badRequest("limit %q is not a byte count", limit)
			}
			end = min(size, start+n)
		}
	}
	if start >= size && size > 0 || start > end {
		return 0, 0, false, unsatisfiable()
	}
	return start, end, true, nil
}
