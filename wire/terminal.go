package wire

// A terminal is GET /api/agents/{id}/terminal, a WebSocket
// (docs/terminal.md): binary messages carry what is typed and drawn,
// JSON text messages (TerminalMessage) the rest.

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

// TerminalSubprotocol is the WebSocket subprotocol of a terminal. A
// browser, which cannot set Authorization on a WebSocket, offers its
// token as a second subprotocol, TerminalTokenPrefix followed by the
// token; the server answers with TerminalSubprotocol alone.
const (
	TerminalSubprotocol = "warder.terminal.v1"
	TerminalTokenPrefix = "warder.token."
)
