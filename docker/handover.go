package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// claimTimeout bounds a claim's hand-over: the agent reads its
// environment and answers within milliseconds; one that does not is
// removed and the agent started cold.
const claimTimeout = 10 * time.Second

// agentStartLine starts the line warder-agent writes once it serves as
// its agent: the claim waits for it.
const agentStartLine = "warder-agent starting "

// configure writes env to the pooled agent's stdin and waits until it
// says it serves as its agent. Only a holder of the Engine API can attach
// to a container's stdin; the values never enter its configuration.
func (r *Runtime) configure(ctx context.Context, id, agentID string, env map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	att, err := r.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return mapErr(err, "attach to claimed container "+id)
	}
	defer att.Close()
	deadline, _ := ctx.Deadline()
	_ = att.Conn.SetDeadline(deadline)
	line, err := json.Marshal(map[string]any{"env": maps.Clone(env)})
	if err != nil {
		return err
	}
	if _, err := att.Conn.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing to claimed container %s: %w", id, err)
	}
	// Closing our side closes the agent's stdin (StdinOnce): it reads
	// one line and nothing more can be written to it.
	if err := att.CloseWrite(); err != nil {
		return fmt.Errorf("closing the claimed container %s's stdin: %w", id, err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, att.Reader)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	return awaitStartLine(bufio.NewReaderSize(pr, 4096), agentID)
}

// awaitStartLine reads output until warder-agent's start-up line, which
// must name agentID: a container that started as anyone else is no
// claim of this agent's. A log flood before it (a test knob) is skipped,
// not held.
func awaitStartLine(br *bufio.Reader, agentID string) error {
	atLineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if atLineStart && isStartLine(string(chunk)) {
			if !strings.HasPrefix(string(chunk)[stampLen+len(agentStartLine):], "agent_id="+agentID+" ") {
				return fmt.Errorf("the pooled agent started as another agent: %.200q", chunk)
			}
			return nil
		}
		atLineStart = err == nil
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return errors.New("the pooled agent ended before it was configured")
		case err != nil:
			return fmt.Errorf("waiting for the pooled agent: %w", err)
		}
	}
}

// isStartLine reports whether line is warder-agent's start-up line,
// after the logger's "2006/01/02 15:04:05 ".
func isStartLine(line string) bool {
	return len(line) > stampLen && strings.HasPrefix(line[stampLen:], agentStartLine)
}

// stampLen is the length of warder-agent's logger's time stamp.
const stampLen = len("2006/01/02 15:04:05 ")
