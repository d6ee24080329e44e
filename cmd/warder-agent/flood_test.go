package main

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestChatFlood: each kind of flood is what its name says, for the first
// MiB at least, and the agent stops when the caller hangs up.
func TestChatFlood(t *testing.T) {
	for kind, want := range map[string]string{
		"event":  "data: xxxx",
		"line":   "data: xxxx",
		"pieces": `data: {"content": "pppp`,
		"json":   `{"content": "jjjj`,
	} {
		srv := httptest.NewServer(newHandler(agent{ChatFlood: kind}, log.New(io.Discard, "", 0)))
		resp, err := http.Post(srv.URL+"/chat", "application/json", strings.NewReader(`{"content": "hi", "stream": true}`))
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReaderSize(resp.Body, 64<<10)
		peeked, _ := r.Peek(len(want))
		head := string(peeked)
		var lines, blank int
		var read int64
		for read < 1<<20 {
			line, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				t.Fatalf("%s: %v", kind, err)
			}
			read += int64(len(line))
			if err == nil {
				lines++
				if len(line) == 1 {
					blank++
				}
			}
		}
		resp.Body.Close()
		srv.Close() // waits for the handler, which stops once the caller left
		switch {
		case head != want:
			t.Errorf("%s: starts %q, want %q", kind, head, want)
		case kind == "event" && (lines < 200 || blank != 0):
			t.Errorf("event: %d lines, %d blank, want many lines and no blank one", lines, blank)
		case (kind == "line" || kind == "json") && lines != 0:
			t.Errorf("%s: %d lines in the first MiB, want none", kind, lines)
		case kind == "pieces" && (blank < 200 || lines-2*blank > 1): // the last may be cut
			t.Errorf("pieces: %d lines, %d blank, want one event per piece", lines, blank)
		}
	}
}

// TestLogFlood: the log flood writes N lines of K KiB and their ends.
func TestLogFlood(t *testing.T) {
	var out strings.Builder
	if err := (logFlood{lines: 3, kib: 70}).write(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "log flood line 3 of 3: xxx") || !strings.HasSuffix(lines[2], "x end") {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if n := strings.Count(l, "x"); n != 70<<10 {
			t.Fatalf("a line has %d x, want %d", n, 70<<10)
		}
	}
}
