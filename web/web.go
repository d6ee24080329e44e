// Package web is Warder's dashboard: static HTML, CSS and JavaScript
// modules, embedded in the binary and served at / by the same server as
// the API, which is all it talks to.
//
// Caching: every asset is served under /ui/<hash>/, where hash is a digest
// of all the assets together, with a year's max-age and "immutable"; the
// page at / names that prefix and is served with "no-cache" and an ETag,
// so a browser revalidates it (a 304 when nothing changed) and a new
// binary's assets are fetched at once. Each file is gzipped once at start
// and sent compressed to browsers that accept it.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed static
var static embed.FS

// csp confines the dashboard to its own origin: its scripts and styles
// only, no inline script, no frames of it elsewhere.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one asset, ready to send.
type file struct {
	body, gz []byte
	ctype    string
	etag     string
}

// Handler serves the dashboard: the page at / and its assets under /ui/.
type Handler struct {
	prefix string // "/ui/<hash>/"
	index  file
	assets map[string]file // by name under static/
}

// New reads the embedded files and prepares them.
func New() *Handler {
	names := []string{}
	fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, "static/"))
		}
		return err
	})
	sort.Strings(names)
	sum := sha256.New()
	raw := map[string][]byte{}
	for _, n := range names {
		b, _ := static.ReadFile("static/" + n)
		raw[n] = b
		sum.Write([]byte(n))
		sum.Write(b)
	}
	h := &Handler{prefix: "/ui/" + hex.EncodeToString(sum.Sum(nil))[:12] + "/", assets: map[string]file{}}
	for _, n := range names {
		if n == "index.html" {
			continue
		}
		h.assets[n] = newFile(n, raw[n])
	}
	h.index = newFile("index.html", bytes.ReplaceAll(raw["index.html"], []byte("/ui/"), []byte(h.prefix)))
	return h
}

func newFile(name string, b []byte) file {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(b)
	w.Close()
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	d := sha256.Sum256(b)
	return file{body: b, gz: gz.Bytes(), ctype: ctype, etag: `"` + hex.EncodeToString(d[:8]) + `"`}
}

// AssetPrefix is the path the assets are served under, which changes
// whenever any of them does.
func (h *Handler) AssetPrefix() string { return h.prefix }

// ServeHTTP answers GET and HEAD on / and on /ui/<hash>/<file>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/" {
		hd.Set("Content-Security-Policy", csp)
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.send(w, r, h.index)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	f, found := h.assets[name]
	if !ok || !found {
		// An old page's asset, or none at all: not cached, so a reload heals.
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "no such dashboard file: reload the page", http.StatusNotFound)
		return
	}
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.send(w, r, f)
}

// send writes f, gzipped if the client takes it, or 304 if its ETag matches.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, f file) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("ETag", f.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	w.Write(body)
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip
// without refusing it (q=0).
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
