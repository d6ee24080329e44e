package warder

import (
	"io"
	"strings"
	"time"

	"github.com/warder/warder/wire"
)

// A terminal is an interactive command with a pseudo-terminal: what is
// typed goes to it, what it draws comes back, and it can be resized. It
// is GET /api/agents/{id}/terminal, a WebSocket (docs/terminal.md).

// A terminal's size, its control messages and the words of its protocol
// are the API's, defined in package wire (docs/architecture.md, "Wire
// types").
type (
	TermSize        = wire.TermSize
	TerminalMessage = wire.TerminalMessage
)

// MaxTermCells bounds a terminal's columns and rows.
const MaxTermCells = wire.MaxTermCells

// Why a terminal session ended, and the WebSocket subprotocols: see
// package wire.
const (
	TerminalExited      = wire.TerminalExited
	TerminalIdle        = wire.TerminalIdle
	TerminalMaxAge      = wire.TerminalMaxAge
	TerminalSubprotocol = wire.TerminalSubprotocol
	TerminalTokenPrefix = wire.TerminalTokenPrefix
)

// DefaultTermSize is a terminal's size until the client says otherwise.
var DefaultTermSize = TermSize{Cols: 80, Rows: 24}

// TTY, in ExecSpec, asks ExecRuntime.Exec for a terminal: the command
// gets a pseudo-terminal of Size as its standard input, output and
// error; ExecSpec.Stdin is what is typed, and all output comes as one
// stream, StreamStdout. Each size received from Resize resizes the
// terminal, until Exec returns. With a TTY and no Cmd the command is the
// workload's shell: /bin/sh where its image has one, else the default
// image's built-in shell (warder-agent sh).
type TTY struct {
	Size   TermSize
	Resize <-chan TermSize
}

// TerminalRequest is what opens a terminal: the query of GET
// /api/agents/{id}/terminal (cmd repeated, cols, rows).
type TerminalRequest struct {
	// Cmd is the program and its arguments; none is the agent's shell.
	Cmd  []string
	Size TermSize
}

// Validate checks the request; a zero Size becomes DefaultTermSize.
func (r *TerminalRequest) Validate() error {
	if r.Size == (TermSize{}) {
		r.Size = DefaultTermSize
	}
	if !r.Size.Valid() {
		return Errorf(ErrInvalid, "cols and rows must be 1 to %d", MaxTermCells)
	}
	if len(r.Cmd) == 0 {
		return nil
	}
	if r.Cmd[0] == "" {
		return Errorf(ErrInvalid, "cmd must name a program, or be absent for the agent's shell")
	}
	if len(r.Cmd) > 256 {
		return Errorf(ErrInvalid, "cmd has %d elements; at most 256 are allowed", len(r.Cmd))
	}
	for _, a := range r.Cmd {
		if strings.ContainsRune(a, 0) || len(a) > 32<<10 {
			return Errorf(ErrInvalid, "an element of cmd holds a NUL byte or is over 32 KiB")
		}
	}
	return nil
}

// TerminalResult is how a terminal session ended. A session cut at a
// bound has its command killed: ExitCode 137.
type TerminalResult struct {
	ExitCode int
	Reason   string
	Duration time.Duration
}

// TerminalIO is the client's end of a terminal session: Ready is called
// once the session may start (an upgrade, say; its error ends the
// session), Stdin is what is typed, each size from Resize resizes the
// terminal, and Out is given what the command draws, in order.
type TerminalIO struct {
	Ready  func() error
	Stdin  io.Reader
	Resize <-chan TermSize
	Out    func(p []byte) error
}
