package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// progressMessage is one line of the engine's JSON progress stream, as sent
// by the build and pull endpoints. Engines send a failure twice: as the
// legacy top-level "error" string and as "errorDetail".
type progressMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// readProgress reads the engine's build or pull progress stream to its
// end (a build or pull is not finished before that) and returns the end of
// the build's output, or an error if the stream reported one or broke
// off. A request that failed half-way still answers 200, so this is the
// only place a failed build shows. Each message is bounded, and only the
// last maxProgressKeptBytes of output are kept.
func readProgress(r io.Reader) (string, error) {
	var out []byte
	body := newBudgetReader(r, maxProgressBytes, "a message of the engine's progress stream")
	dec := json.NewDecoder(body)
	for {
		var m progressMessage
		body.refill()
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return string(out), nil
		}
		if err != nil {
			return string(out), fmt.Errorf("reading the engine's progress stream: %w", err)
		}
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			return string(out), errors.New(strings.TrimSpace(msg))
		}
		out = append(out, m.Stream...)
		if over := len(out) - maxProgressKeptBytes; over > 0 {
			out = append(out[:0], out[over:]...)
		}
	}
}
