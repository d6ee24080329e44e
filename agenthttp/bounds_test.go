package agenthttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder"
)

// endless reads as head, then body repeated without end, and counts what
// was read: what a hostile agent sends.
type endless struct {
	head, body string
	read       int64
	pos        int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if e.head != "" {
			c := copy(p[n:], e.head)
			e.head = e.head[c:]
			n += c
			continue
		}
		c := copy(p[n:], e.body[e.pos:])
		e.pos = (e.pos + c) % len(e.body)
		n += c
	}
	e.read += int64(n)
	return n, nil
}

// readSlack is what a reader may read beyond a bound before it notices:
// its buffer, and the line it was on.
const readSlack = 128 << 10

// TestStreamBounds: a stream that never ends an event, a line or an
// answer is cut off once it passes MaxAnswerBytes, with a 502 that names
// the bound. What it reads is bounded too: the bound times what the
// stream's framing adds (readFactor), plus a buffer.
func TestStreamBounds(t *testing.T) {
	tests := []struct {
		name       string
		src        *endless
		readFactor int64
		want       string
	}{
		{"data lines without a blank line", &endless{body: "data: " + strings.Repeat("x", 1000) + "\n"}, 1, "in one event of its stream"},
		{"one line without end", &endless{head: "data: ", body: "x"}, 1, "in one line of its stream"},
		{"pieces without done", &endless{body: "data: {\"content\": \"" + strings.Repeat("y", 500) + "\"}\n\n"}, 2, "in the pieces of its answer"},
		{"short data lines", &endless{head: "event: done\n", body: "data: {}\n"}, 3, "in one event of its stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			passed := 0
			_, err := readStream(tt.src, func(p string) error { passed += len(p); return nil })
			msg := warder.ErrorMessage(err)
			if !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "at most 4 MiB") {
				t.Fatalf("readStream = %v, want ErrBadGateway with %q naming the 4 MiB bound", err, tt.want)
			}
			if tt.src.read > tt.readFactor*warder.MaxAnswerBytes+readSlack || passed > warder.MaxAnswerBytes {
				t.Fatalf("read %d bytes and passed on %d before giving up; the bound is %d", tt.src.read, passed, warder.MaxAnswerBytes)
			}
		})
	}
}

// TestStreamAtTheBound: an answer of just under MaxAnswerBytes, whole in
// the done event after pieces that add up to it, is read whole.
func TestStreamAtTheBound(t *testing.T) {
	content := strings.Repeat("z", warder.MaxAnswerBytes-64)
	half := len(content) / 2
	var in strings.Builder
	for _, p := range []string{content[:half], content[half:]} {
		fmt.Fprintf(&in, "data: {\"content\":%q}\n\n", p)
	}
	fmt.Fprintf(&in, "event: done\ndata: {\"content\":%q,\n", content)
	in.WriteString("data: \"model\":\"m\"}\n\n") // a payload over two lines
	ans, err := readStream(strings.NewReader(in.String()), func(string) error { return nil })
	if err != nil || ans.Content != content || ans.Model != "m" {
		t.Fatalf("readStream = %d bytes, %q, %v", len(ans.Content), ans.Model, err)
	}
	ans, err = readAnswer(strings.NewReader(fmt.Sprintf(`{"content":%q}`, content)), nil)
	if err != nil || ans.Content != content {
		t.Fatalf("readAnswer = %d bytes, %v", len(ans.Content), err)
	}
}

// TestAnswerBound: a whole answer without end is cut off at the bound,
// as a 502 that says so rather than as "not JSON".
func TestAnswerBound(t *testing.T) {
	src := &endless{head: `{"content": "`, body: "talk "}
	_, err := readAnswer(src, nil)
	if !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(warder.ErrorMessage(err), "more than 4 MiB in its answer") {
		t.Fatalf("readAnswer = %v, want ErrBadGateway naming the bound", err)
	}
	if src.read > warder.MaxAnswerBytes {
		t.Fatalf("read %d bytes of an answer bounded at %d", src.read, warder.MaxAnswerBytes)
	}
}

// TestChatBounds: through Chat, over HTTP, an agent that answers without
// end gets a 502 naming the bound, whole or streamed, and the connection
// is dropped rather than read on.
func TestChatBounds(t *testing.T) {
	for _, stream := range []bool{false, true} {
		base := agentServer(t, func(w http.ResponseWriter, r *http.Request, _ warder.AgentChat) {
			line := "data: " + strings.Repeat("x", 4096) + "\n"
			if stream {
				w.Header().Set("Content-Type", "text/event-stream")
			} else {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"content": "`)
				line = strings.Repeat("x", 4096)
			}
			for sent := 0; sent < 64*warder.MaxAnswerBytes; sent += len(line) { // not forever if Warder never stops
				if _, err := fmt.Fprint(w, line); err != nil {
					return
				}
			}
			t.Errorf("stream %v: the agent wrote %d MiB unhindered", stream, 64*warder.MaxAnswerBytes>>20)
		})
		var onDelta func(string) error
		if stream {
			onDelta = func(string) error { return nil }
		}
		_, err := New(0).Chat(context.Background(), base, warder.AgentChat{Content: "x"}, onDelta)
		if !errors.Is(err, warder.ErrBadGateway) || !strings.Contains(warder.ErrorMessage(err), "Warder reads at most 4 MiB of an answer") {
			t.Fatalf("stream %v: Chat = %v, want ErrBadGateway naming the bound", stream, err)
		}
	}
}
