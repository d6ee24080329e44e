package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// floodBytes is what a chat flood sends: far past Warder's bound on an
// answer (4 MiB), yet finite, so a Warder without that bound fails a test
// instead of running out of memory.
const floodBytes = 64 << 20

// chatFloods are the kinds of WARDER_AGENT_CHAT_FLOOD: how an answer that
// never ends looks. Each streams as Server-Sent Events, whatever was
// asked, except json, which is a whole answer whose content never ends.
var chatFloods = map[string]bool{
	"event":  true, // data: lines without the blank line that ends an event
	"line":   true, // one data: line without its newline
	"pieces": true, // {"content"} events, never the done event
	"json":   true, // {"content": "... without its end
}

// flood answers a chat with floodBytes of kind and stops early when the
// caller hangs up.
func flood(w http.ResponseWriter, kind string) {
	var head, unit string
	switch kind {
	case "event":
		unit = "data: " + strings.Repeat("x", 4090) + "\n"
	case "line":
		head, unit = "data: ", strings.Repeat("x", 4096)
	case "pieces":
		unit = `data: {"content": "` + strings.Repeat("p", 4070) + "\"}\n\n"
	case "json":
		head, unit = `{"content": "`, strings.Repeat("j", 4096)
	}
	if kind == "json" {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	http.NewResponseController(w).Flush()
	for sent := 0; sent < floodBytes; sent += len(unit) {
		if _, err := io.WriteString(w, unit); err != nil {
			return // the caller stopped reading, as Warder should
		}
	}
}

// logFlood is WARDER_AGENT_LOG_FLOOD=NxK: N lines of K KiB each.
type logFlood struct {
	lines, kib int
}

// parseLogFlood reads "NxK", N from 1 to 10000 lines of K from 1 to
// 65536 KiB (64 MiB), at most 1 GiB in all.
func parseLogFlood(s string) (logFlood, error) {
	n, k, ok := strings.Cut(s, "x")
	lines, err1 := strconv.Atoi(n)
	kib, err2 := strconv.Atoi(k)
	if !ok || err1 != nil || err2 != nil || lines < 1 || lines > 10000 || kib < 1 || kib > 65536 || lines*kib > 1<<20 {
		return logFlood{}, fmt.Errorf("must be LINESxKIB, such as 100x128: 1-10000 lines of 1-65536 KiB, 1 GiB at most")
	}
	return logFlood{lines: lines, kib: kib}, nil
}

// write writes the flood's lines to w, each "log flood line I of N: "
// then x to K KiB, then " end", without holding a line in memory.
func (f logFlood) write(w io.Writer) error {
	chunk := bytes.Repeat([]byte("x"), 1<<10)
	for i := 1; i <= f.lines; i++ {
		if _, err := fmt.Fprintf(w, "log flood line %d of %d: ", i, f.lines); err != nil {
			return err
		}
		for range f.kib {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, " end\n"); err != nil {
			return err
		}
	}
	return nil
}
