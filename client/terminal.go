package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/warder/warder/wire"
)

// Terminal is an open terminal session in an agent (Client.Terminal):
// Write sends what is typed, Resize the terminal's new size, and Run
// copies what is drawn to a writer until the session ends. Write and
// Resize may be called from other goroutines while Run runs.
type Terminal struct {
	conn *websocket.Conn
	ctx  context.Context
}

// TerminalEnd is how a terminal session ended: the command's exit code
// and why (wire.TerminalExited, TerminalIdle, TerminalMaxAge).
type TerminalEnd struct {
	ExitCode int
	Reason   string
}

// terminalOutputBytes bounds one message from the server; it sends
// output in pieces of at most 32 KiB.
const terminalOutputBytes = 1 << 20

// Terminal opens a terminal in the running agent id: req.Cmd, or the
// agent's shell when empty, at req.Size (80x24 when zero). A refusal is
// an *Error as for any call (404, 403 for a read-only key, 409 for an
// agent that does not run, 429 when its commands are at their bound).
// The session lasts until the command ends, ctx ends or Close.
func (c *Client) Terminal(ctx context.Context, id string, req TerminalRequest) (*Terminal, error) {
	q := url.Values{"cmd": req.Cmd}
	if req.Size != (wire.TermSize{}) {
		q.Set("cols", strconv.Itoa(int(req.Size.Cols)))
		q.Set("rows", strconv.Itoa(int(req.Size.Rows)))
	}
	u := c.base + "/api/agents/" + seg(id) + "/terminal?" + q.Encode()
	h := http.Header{}
	if token := c.Token(); token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: c.http, HTTPHeader: h, Subprotocols: []string{wire.TerminalSubprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			if resp.Body == nil {
				resp.Body = http.NoBody
			}
			return nil, errorOf(resp)
		}
		return nil, fmt.Errorf("warder client: terminal: %w", err)
	}
	conn.SetReadLimit(terminalOutputBytes)
	return &Terminal{conn: conn, ctx: ctx}, nil
}

// Write sends p as typed.
func (t *Terminal) Write(p []byte) (int, error) {
	if err := t.conn.Write(t.ctx, websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Resize tells the command the terminal's new size.
func (t *Terminal) Resize(size wire.TermSize) error {
	b, _ := json.Marshal(wire.TerminalMessage{Type: "resize", Cols: size.Cols, Rows: size.Rows})
	return t.conn.Write(t.ctx, websocket.MessageText, b)
}

// Run copies what the command draws to out until the session ends, and
// returns how it ended; a failure the server reports is an error with
// its words.
func (t *Terminal) Run(out io.Writer) (TerminalEnd, error) {
	defer t.conn.CloseNow()
	for {
		kind, p, err := t.conn.Read(t.ctx)
		if err != nil {
			if t.ctx.Err() != nil {
				return TerminalEnd{}, t.ctx.Err()
			}
			return TerminalEnd{}, fmt.Errorf("warder client: the terminal closed without an exit code: %w", err)
		}
		if kind == websocket.MessageBinary {
			if _, err := out.Write(p); err != nil {
				return TerminalEnd{}, err
			}
			continue
		}
		var m wire.TerminalMessage
		if err := json.Unmarshal(p, &m); err != nil {
			return TerminalEnd{}, fmt.Errorf("warder client: terminal: unreadable message: %w", err)
		}
		switch m.Type {
		case "exit":
			t.conn.Close(websocket.StatusNormalClosure, "")
			end := TerminalEnd{Reason: m.Reason}
			if m.ExitCode != nil {
				end.ExitCode = *m.ExitCode
			}
			return end, nil
		case "error":
			t.conn.Close(websocket.StatusNormalClosure, "")
			return TerminalEnd{}, errors.New(strings.TrimSpace(m.Detail))
		}
	}
}

// Close ends the session; the command is killed.
func (t *Terminal) Close() error { return t.conn.CloseNow() }
