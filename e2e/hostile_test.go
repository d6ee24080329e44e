package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

// createFloodAgent creates and starts an agent of c's with one of
// warder-agent's flood knobs set, and waits until it answers.
func createFloodAgent(c *apitest.Client, name, knob, value string) apitest.Agent {
	c.T.Helper()
	var a apitest.Agent
	c.MustDo("POST", "/api/agents", map[string]any{
		"name": name,
		"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25,
			"env_vars": map[string]string{knob: value}},
	}, 201, &a)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	waitHealthy(c.T, *a.HostPort)
	return a
}

// allocated returns how many bytes this process allocates while fn runs:
// Warder runs in it, so this bounds what Warder held for fn from above.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxChatAlloc is what one chat with a flooding agent may make Warder
// allocate: a few buffers of up to warder.MaxAnswerBytes as they grow,
// while the agent sends 64 MiB.
const maxChatAlloc = 40 << 20

// TestChatFloodBounded: an agent that answers a chat with 64 MiB that
// never becomes an answer (an event without end, a JSON string without
// end) gets a 502 naming Warder's 4 MiB bound, and Warder allocates a
// fraction of what the agent sent; one that streams pieces without end
// has its caller get at most 4 MiB of them, then an error event.
func TestChatFloodBounded(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	tests := []struct {
		kind   string
		stream bool
	}{
		{"event", true},
		{"event", false},
		{"json", false},
	}
	agents := map[string]apitest.Agent{}
	for _, tt := range tests {
		a, ok := agents[tt.kind]
		if !ok {
			a = createFloodAgent(c, "flood-"+tt.kind, "WARDER_AGENT_CHAT_FLOOD", tt.kind)
			agents[tt.kind] = a
		}
		var status int
		var raw []byte
		alloc := allocated(func() {
			status, raw = c.Do("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hi", "stream": tt.stream})
		})
		t.Logf("%s (stream %v): Warder allocated %d MiB", tt.kind, tt.stream, alloc>>20)
		if status != http.StatusBadGateway || !strings.Contains(apitest.DetailOf(t, raw), "Warder reads at most 4 MiB of an answer") {
			t.Errorf("%s (stream %v) = %d %.300s, want 502 naming the 4 MiB bound", tt.kind, tt.stream, status, raw)
		}
		if alloc > maxChatAlloc {
			t.Errorf("%s (stream %v): Warder allocated %d MiB, want at most %d", tt.kind, tt.stream, alloc>>20, maxChatAlloc>>20)
		}
	}

	// Pieces are passed on as they come (what they cost is per piece, not
	// held), up to the bound.
	a := createFloodAgent(c, "flood-pieces", "WARDER_AGENT_CHAT_FLOOD", "pieces")
	resp := c.Stream("POST", "/api/agents/"+a.ID+"/chat", `{"content": "hi", "stream": true}`)
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 2*warder.MaxAnswerBytes)) // a Warder without the bound sends 64 MiB
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var content int
	var last string
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var d struct{ Content, Detail string }
		if json.Unmarshal([]byte(data), &d) != nil {
			break // cut by the LimitReader: far too much came
		}
		content += len(d.Content)
		last = d.Detail
	}
	if content > warder.MaxAnswerBytes || !strings.Contains(last, "Warder reads at most 4 MiB of an answer") {
		t.Errorf("pieces: the caller got %d bytes of content, and last %q; want at most %d, then the bound named", content, last, warder.MaxAnswerBytes)
	}

	var list struct{ Conversations []warder.Conversation }
	for _, a := range agents {
		c.MustDo("GET", "/api/agents/"+a.ID+"/conversations", nil, 200, &list)
		if len(list.Conversations) != 0 {
			t.Errorf("a flood was stored: %+v", list.Conversations)
		}
	}
}

// TestLogsHugeLines: an agent that writes 128 KiB lines has them cut at
// 64 KiB and marked, streamed or not; logs over 4 MiB are a 413 that says
// how to stream them, and a streamed read of them is whole.
func TestLogsHugeLines(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.register(t, "root")
	a := createFloodAgent(c, "logger", "WARDER_AGENT_LOG_FLOOD", "100x128")
	logs := "/api/agents/" + a.ID + "/logs"
	maxLine := warder.MaxLogLineBytes + len(warder.LogLineCut)

	// The engine writes to its log asynchronously: wait for the last line.
	var lines []warder.LogLine
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		lines = sseLogs(c, logs+"?lines=10000")
		if slices.ContainsFunc(lines, isLastFloodLine) || time.Now().After(deadline) {
			break
		}
	}
	flood := 0
	for _, l := range lines {
		if len(l.Text) > maxLine {
			t.Fatalf("a streamed line of %d bytes; the bound is %d", len(l.Text), maxLine)
		}
		if strings.HasPrefix(l.Text, "log flood line ") {
			flood++
			if len(l.Text) != maxLine || !strings.HasSuffix(l.Text, warder.LogLineCut) {
				t.Fatalf("flood line %d: %d bytes ending %q, want cut at %d and marked", flood, len(l.Text), l.Text[len(l.Text)-30:], warder.MaxLogLineBytes)
			}
		}
	}
	if flood != 100 {
		t.Fatalf("streamed logs hold %d of the 100 flood lines", flood)
	}

	// 100 lines cut to 64 KiB are over 4 MiB: not answered at once.
	status, raw := c.Do("GET", logs+"?lines=10000", nil)
	if d := apitest.DetailOf(t, raw); status != http.StatusRequestEntityTooLarge || !strings.Contains(d, "over 4 MiB") || !strings.Contains(d, "follow=true") {
		t.Fatalf("lines=10000 = %d %.300s, want 413 naming the bound and how to stream", status, raw)
	}
	// Fewer lines are answered, each cut.
	var answer struct{ Logs string }
	c.MustDo("GET", logs+"?lines=40", nil, 200, &answer)
	got := strings.Split(strings.TrimSuffix(answer.Logs, "\n"), "\n")
	if len(answer.Logs) > 40*(maxLine+1) || !strings.Contains(answer.Logs, "log flood line 100 of 100") {
		t.Fatalf("lines=40: %d bytes in %d lines", len(answer.Logs), len(got))
	}
	for _, l := range got {
		if len(l) > maxLine {
			t.Fatalf("lines=40: a line of %d bytes; the bound is %d", len(l), maxLine)
		}
	}
}

func isLastFloodLine(l warder.LogLine) bool {
	return strings.HasPrefix(l.Text, "log flood line 100 of 100: ")
}

// sseLogs reads the logs at path to their end as Server-Sent Events.
func sseLogs(c *apitest.Client, path string) []warder.LogLine {
	c.T.Helper()
	req, _ := http.NewRequest("GET", c.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		c.T.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	var lines []warder.LogLine
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	name := ""
	for sc.Scan() {
		field, value, _ := strings.Cut(sc.Text(), ": ")
		switch field {
		case "event":
			name = value
		case "data":
			if name == warder.StreamStdout || name == warder.StreamStderr {
				var l warder.LogLine
				if err := json.Unmarshal([]byte(value), &l); err != nil {
					c.T.Fatalf("event %s: %v", name, err)
				}
				lines = append(lines, l)
			}
			name = ""
		}
	}
	if err := sc.Err(); err != nil {
		c.T.Fatalf("reading %s: %v", path, err)
	}
	return lines
}
