package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestCaching: the page is revalidated (no-cache, ETag, 304) and names
// its assets under the content-hash prefix, where they are immutable;
// an asset under any other prefix is a 404 that is not cached.
func TestCaching(t *testing.T) {
	h := New()
	page := get(h, "/")
	if page.Code != 200 || page.Header().Get("Cache-Control") != "no-cache" || page.Header().Get("ETag") == "" ||
		!strings.Contains(page.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET / = %d %v", page.Code, page.Header())
	}
	body := page.Body.String()
	if !strings.Contains(body, h.AssetPrefix()+"app.js") || !regexp.MustCompile(`^/ui/[0-9a-f]{12}/$`).MatchString(h.AssetPrefix()) {
		t.Fatalf("the page does not name hashed assets (%s):\n%s", h.AssetPrefix(), body)
	}
	if again := get(h, "/", "If-None-Match", page.Header().Get("ETag")); again.Code != 304 {
		t.Fatalf("revalidating = %d", again.Code)
	}
	for _, name := range []string{"app.js", "api.js", "agents.js", "agent.js", "admin.js", "dom.js", "files.js", "app.css"} {
		a := get(h, h.AssetPrefix()+name)
		if a.Code != 200 || !strings.Contains(a.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d %v", name, a.Code, a.Header())
		}
		if ct := a.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") && !strings.HasPrefix(ct, "text/css") {
			t.Errorf("%s is served as %q", name, ct)
		}
	}
	if old := get(h, "/ui/000000000000/app.js"); old.Code != 404 || old.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("an asset of another build = %d %v", old.Code, old.Header())
	}
}

// TestGzip: a client that takes gzip gets the same bytes compressed; one
// that does not (or refuses it with q=0) gets them plain.
func TestGzip(t *testing.T) {
	h := New()
	plain := get(h, h.AssetPrefix()+"agent.js")
	gz := get(h, h.AssetPrefix()+"agent.js", "Accept-Encoding", "br, gzip")
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("Vary") != "Accept-Encoding" || gz.Body.Len() >= plain.Body.Len() {
		t.Fatalf("gzip: %v, %d bytes of %d", gz.Header(), gz.Body.Len(), plain.Body.Len())
	}
	r, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); !bytes.Equal(b, plain.Body.Bytes()) {
		t.Fatal("the gzipped body differs from the plain one")
	}
	if refused := get(h, "/", "Accept-Encoding", "gzip;q=0"); refused.Header().Get("Content-Encoding") != "" {
		t.Fatalf("gzip sent to a client refusing it: %v", refused.Header())
	}
}

// TestSmall: the whole dashboard stays small enough to embed and to load
// fast on a slow link.
func TestSmall(t *testing.T) {
	h := New()
	total, vendor := len(h.index.gz), 0
	for n, f := range h.assets {
		if strings.HasPrefix(n, "vendor/") {
			vendor += len(f.gz) // loaded when a terminal opens, not with the page
			continue
		}
		total += len(f.gz)
	}
	if total > 64<<10 {
		t.Fatalf("the dashboard is %d bytes gzipped; keep it under 64 KiB", total)
	}
	if vendor > 96<<10 {
		t.Fatalf("the vendored files are %d bytes gzipped; keep them under 96 KiB", vendor)
	}
	t.Logf("the dashboard is %d bytes gzipped, and %d more for the terminal", total, vendor)
}
