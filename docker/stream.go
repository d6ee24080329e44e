package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// streamMessage is one line of the engine's JSON progress stream, as sent
// by the build and pull endpoints. Engines send a failure twice: as the
// legacy top-level "error" string and as "errorDetail".
type streamMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// readStream reads a progress stream to its end (a build or pull is not
// finished before that) and returns the build's output, or an error if the
// stream reported one or broke off. A request that failed half-way still
// answers 200, so this is the only place a failed build shows.
func readStream(r io.Reader) (string, error) {
	var out strings.Builder
	dec := json.NewDecoder(r)
	for {
		var m streamMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), fmt.Errorf("reading the engine's progress stream: %w", err)
		}
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			return out.String(), errors.New(strings.TrimSpace(msg))
		}
		out.WriteString(m.Stream)
	}
}
