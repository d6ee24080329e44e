package warder

import (
	"io"
	"strings"
	"time"
)

// A terminal is an interactive command with a pseudo-terminal: what is
// typed goes to it, what it draws comes back, and it can be resized. It
// is GET /api/agents/{id}/terminal, a WebSocket (docs/terminal.md).

// TermSize is a terminal's size in character cells.
type TermSize struct {
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

// Valid says the size is one a terminal can have: 1 to MaxTermCells
// cells each way.
func (s TermSize) Valid() bool {
	return s.Cols >= 1 && s.Rows >= 1 && s.Cols <= MaxTermCells && s.Rows <= MaxTermCells
}

// MaxTermCells bounds a terminal's columns and rows.
const MaxTermCells = 1000

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

// TerminalMessage is a terminal session's control message, a WebSocket
// text message of JSON (the keys typed and the output drawn are binary
// messages). The client sends "resize" with Cols and Rows; the server
// ends the session with "exit" (ExitCode, Reason) or "error" (Detail).
type TerminalMessage struct {
	Type     string `json:"type"`
	Cols     uint16 `json:"cols,omitempty"`
	Rows     uint16 `json:"rows,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Why a terminal session ended (TerminalResult.Reason).
const (
	TerminalExited = "exited" // the command ended
	TerminalIdle   = "idle"   // nothing typed or drawn for the idle timeout
	TerminalMaxAge = "max_session"
)

// TerminalResult is how a terminal session ended. A session cut at a
// bound has its command killed: ExitCode 137.
type TerminalResult struct {
	ExitCode int
	Reason   string
	Duration time.Duration
}

// TerminalSubprotocol is the WebSocket subprotocol of a terminal. A
// browser, which cannot set Authorization on a WebSocket, offers its
// token as a second subprotocol, TerminalTokenPrefix followed by the
// token; the server answers with TerminalSubprotocol alone.
const (
	TerminalSubprotocol = "warder.terminal.v1"
	TerminalTokenPrefix = "warder.token."
)

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
