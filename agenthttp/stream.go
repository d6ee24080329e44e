package agenthttp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/warder/warder"
)

// maxLineBytes caps one line of an agent's stream: a "data:" field with
// an event's whole payload, and room for the field name. Lines are cut
// here, events (which span lines) in readStream.
const maxLineBytes = warder.MaxAnswerBytes + 64

// readStream reads an agent's streamed answer: unnamed events (or
// "message"/"delta") carry {"content": piece}, "done" the whole answer,
// "error" {"detail"}. A stream that ends without "done" broke off: its
// pieces are not an answer. No line, no event and no sum of pieces may
// pass warder.MaxAnswerBytes: an agent that sends data without end is
// cut off there, whether or not it ever ends an event.
func readStream(r io.Reader, onDelta func(string) error) (warder.AgentAnswer, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var name string
	var data bytes.Buffer
	lines, pieces := 0, 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) != 0 {
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				name = string(value)
			case "data":
				if lines > 0 {
					data.WriteByte('\n') // an event's lines are joined by newlines
				}
				if data.Len()+len(value) > warder.MaxAnswerBytes {
					return warder.AgentAnswer{}, tooLarge("one event of its stream")
				}
				data.Write(value)
				lines++
			}
			continue
		}
		if lines == 0 {
			name = ""
			continue
		}
		ans, done, err := handleEvent(name, data.Bytes(), &pieces, onDelta)
		if err != nil || done {
			return ans, err
		}
		name, lines = "", 0
		data.Reset()
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return warder.AgentAnswer{}, tooLarge("one line of its stream")
		}
		return warder.AgentAnswer{}, err
	}
	return warder.AgentAnswer{}, warder.Errorf(warder.ErrBadGateway, "the agent's stream ended before its answer was complete")
}

// tooLarge is an answer cut off at warder.MaxAnswerBytes; what says which
// part of it passed the bound.
func tooLarge(what string) error {
	return warder.Errorf(warder.ErrBadGateway, "the agent sent more than %d MiB in %s; Warder reads at most %d MiB of an answer",
		warder.MaxAnswerBytes>>20, what, warder.MaxAnswerBytes>>20)
}

// handleEvent acts on one event; done reports the end of the answer.
// pieces counts the bytes of content passed on so far.
func handleEvent(name string, data []byte, pieces *int, onDelta func(string) error) (ans warder.AgentAnswer, done bool, err error) {
	switch name {
	case "", "message", "delta":
		var d struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(data, &d) != nil {
			return ans, false, warder.Errorf(warder.ErrBadGateway, "the agent sent a stream event that is not {\"content\": ...}")
		}
		if *pieces += len(d.Content); *pieces > warder.MaxAnswerBytes {
			return ans, false, tooLarge("the pieces of its answer")
		}
		if d.Content != "" && onDelta != nil {
			if err := onDelta(d.Content); err != nil {
				return ans, false, &deltaError{err}
			}
		}
		return ans, false, nil
	case "done":
		var a answer
		if json.Unmarshal(data, &a) != nil {
			return ans, false, warder.Errorf(warder.ErrBadGateway, "the agent's done event is not {\"content\": ...}")
		}
		return warder.AgentAnswer{Content: a.Content, Model: a.Model}, true, nil
	case "error":
		var d struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(data, &d) != nil || d.Detail == "" {
			return ans, false, warder.Errorf(warder.ErrBadGateway, "the agent's answer failed")
		}
		return ans, false, warder.Errorf(warder.ErrBadGateway, "%s", d.Detail)
	}
	return ans, false, nil // an event this protocol does not know
}
