package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
)

// maxEchoBodyBytes caps what /echo/ reads; it hashes as it reads, so a
// large body costs no memory.
const maxEchoBodyBytes = 256 << 20

// echoShownBytes is how much of the body /echo/ shows as text.
const echoShownBytes = 4 << 10

// echo answers any method on /echo/... with what it received: method, path,
// query, headers, and the body's size, SHA-256 and (if small) text. It is
// served only with WARDER_AGENT_ECHO=1, for tests of what a proxy passes on.
func echo(w http.ResponseWriter, r *http.Request) {
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
