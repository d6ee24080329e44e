package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
)

// maxEchoBodyBytes caps what /echo/ reads; it hashes as it reads, so a
// large body costs no memory.
const maxEchoBodyBytes = 256 << 20

// echoShownBytes is how much of the body /echo/ shows as text.
const echoShownBytes = 4 << 10

// echo answers any method on /echo/... with what it received: method, path,
// query, headers, and the body's size, SHA-256 and (if small) text. It is
// served only with WARDER_AGENT_ECHO=1, for tests of what a proxy passes on.
//
// A GET of a path ending in .html is answered instead with probePage: a
// page whose script tries to read the storage and cookies of the origin it
// is served from and shows what it found in its title, as a hostile
// agent's page would, for browser tests of what such a page can reach.
func echo(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, probePage)
		return
	}
	sum := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(sum, &limitedBuffer{&head, echoShownBytes}), http.MaxBytesReader(w, r.Body, maxEchoBodyBytes))
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[k] = v[0]
	}
	body := map[string]any{
		"method": r.Method, "path": r.URL.Path, "raw_path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
		"headers": headers, "body_bytes": n, "body_sha256": hex.EncodeToString(sum.Sum(nil)),
	}
	if n <= echoShownBytes {
		body["body"] = head.String()
	}
	writeJSON(w, http.StatusOK, body)
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// probePage is the hostile page of echo: its title stays "probe: no
// script ran" unless its script runs, and then says what it could read.
const probePage = `<!doctype html><html><head><title>probe: no script ran</title></head><body><p>agent page</p>
<script>
let found = [];
try { for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i); found.push(k + "=" + localStorage.getItem(k)); } } catch (e) { found.push("localStorage refused: " + e.name); }
try { for (let i = 0; i < sessionStorage.length; i++) { const k = sessionStorage.key(i); found.push(k + "=" + sessionStorage.getItem(k)); } } catch (e) { found.push("sessionStorage refused: " + e.name); }
try { found.push("cookie=" + document.cookie); } catch (e) { found.push("cookie refused: " + e.name); }
document.title = "probe ran: " + found.join("; ");
</script></body></html>
`
