package agenthttp

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/warder/warder"
)

// maxEventBytes caps one event of an agent's stream.
const maxEventBytes = 1 << 20

// readStream reads an agent's streamed answer: unnamed events (or
// "message"/"delta") carry {"content": piece}, "done" the whole answer,
// "error" {"detail"}. A stream that ends without "done" broke off: its
// pieces are not an answer.
func readStream(r io.Reader, onDelta func(string) error) (warder.AgentAnswer, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var name string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				data = append(data, value)
			}
			continue
		}
		if len(data) == 0 {
			name = ""
			continue
		}
		ans, done, err := handleEvent(name, strings.Join(data, "\n"), onDelta)
		if err != nil || done {
			return ans, err
		}
		name, data = "", nil
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return warder.AgentAnswer{}, warder.Errorf(warder.ErrBadGateway, "the agent sent a stream event over 1 MiB")
		}
		return warder.AgentAnswer{}, err
	}
	return warder.AgentAnswer{}, warder.Errorf(warder.ErrBadGateway, "the agent's stream ended before its answer was complete")
}

// handleEvent acts on one event; done reports the end of the answer.
func handleEvent(name, data string, onDelta func(string) error) (ans warder.AgentAnswer, done bool, err error) {
	switch name {
	case "", "message", "delta":
		var d struct {
			Content string `json:"content"`
		}
		if json.Unmarshal([]byte(data), &d) != nil {
			return ans, false, warder.Errorf(warder.ErrBadGateway, "the agent sent a stream event that is not {\"content\": ...}")
		}
		if d.Content != "" && onDelta != nil {
			if err := onDelta(d.Content); err != nil {
				return ans, false, &deltaError{err}
			}
		}
		return ans, false, nil
	case "done":
		var a answer
		if json.Unmarshal([]byte(data), &a) != nil {
			return ans, false, warder.Errorf(warder.ErrBadGateway, "the agent's done event is not {\"content\": ...}")
		}
		return warder.AgentAnswer{Content: a.Content, Model: a.Model}, true, nil
	case "error":
		var d struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal([]byte(data), &d) != nil || d.Detail == "" {
			return ans, false, warder.Errorf(warder.ErrBadGateway, "the agent's answer failed")
		}
		return ans, false, warder.Errorf(warder.ErrBadGateway, "%s", d.Detail)
	}
	return ans, false, nil // an event this protocol does not know
}
