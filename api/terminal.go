package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/warder/warder"
)

// TerminalService opens terminals in agents. The server finds it on its
// Workspaces service; without it the terminal route answers 501.
type TerminalService interface {
	// Terminal runs req in the agent with a terminal; see
	// service.Service.Terminal.
	Terminal(ctx context.Context, caller *warder.User, id string, req warder.TerminalRequest, t warder.TerminalIO) (warder.TerminalResult, error)
}

// terminalMessageBytes bounds one message from the client: a paste
// larger than this comes as several (xterm.js and the CLI send what they
// read, in pieces far smaller).
const terminalMessageBytes = 64 << 10

// terminalToken lets a browser sign in to the terminal: a WebSocket from
// a page cannot carry an Authorization header, so the page offers its
// token as a subprotocol (warder.TerminalTokenPrefix + token) beside
// warder.TerminalSubprotocol. It is moved into Authorization before
// authed reads it and taken out of the offered list, so it is never
// echoed back, logged or seen again. Not a query parameter: URLs end up
// in access logs, proxies' logs and browser history.
func (s *Server) terminalToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var kept []string
		for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if tok, ok := strings.CutPrefix(p, warder.TerminalTokenPrefix); ok {
					if bearer(r) == "" {
						r.Header.Set("Authorization", "Bearer "+tok)
					}
					continue
				}
				kept = append(kept, p)
			}
		}
		r.Header.Del("Sec-WebSocket-Protocol")
		if len(kept) > 0 {
			r.Header.Set("Sec-WebSocket-Protocol", strings.Join(kept, ", "))
		}
		h.ServeHTTP(w, r)
	})
}

// terminal is GET /api/agents/{id}/terminal, a WebSocket carrying an
// interactive terminal (docs/terminal.md): binary messages are what is
// typed (client to server) and what is drawn (server to client); text
// messages are JSON warder.TerminalMessage: "resize" from the client,
// "exit" or "error" from the server, which then closes. Query: cmd
// (repeated; none is the agent's shell), cols, rows. Errors before the
// session starts are ordinary answers (404, 403, 409, 429...).
func (s *Server) terminal(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ts, ok := s.workspaces.(TerminalService)
	if !ok {
		return warder.Errorf(warder.ErrNotSupported, "this server has no terminals")
	}
	req, err := terminalRequest(r)
	if err != nil {
		return err
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return warder.Errorf(warder.ErrInvalid, "this is a WebSocket: connect with Upgrade: websocket (warder exec -it, or the dashboard's Terminal)")
	}
	ctx, cancel, err := s.streamContext(r, caller)
	if err != nil {
		return err
	}
	defer cancel()
	sess := &termSession{resize: make(chan warder.TermSize, 1), cancel: cancel}
	stdin, typed := io.Pipe()
	defer stdin.Close()
	res, err := ts.Terminal(ctx, caller, r.PathValue("id"), req, warder.TerminalIO{
		Ready: func() error {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{warder.TerminalSubprotocol}})
			if err != nil {
				return err // Accept has answered
			}
			c.SetReadLimit(terminalMessageBytes)
			sess.conn = c
			sess.closed = s.obs.StreamOpened("terminal")
			go sess.read(ctx, typed)
			return nil
		},
		Stdin:  stdin,
		Resize: sess.resize,
		Out: func(p []byte) error {
			return sess.conn.Write(ctx, websocket.MessageBinary, p)
		},
	})
	if sess.conn == nil {
		return err
	}
	defer sess.closed()
	s.endTerminal(r, sess.conn, res, err)
	return nil
}

// terminalRequest reads the query of a terminal.
func terminalRequest(r *http.Request) (warder.TerminalRequest, error) {
	q := r.URL.Query()
	req := warder.TerminalRequest{Cmd: q["cmd"]}
	for _, d := range []struct {
		name string
		to   *uint16
	}{{"cols", &req.Size.Cols}, {"rows", &req.Size.Rows}} {
		v := q.Get(d.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return req, warder.Errorf(warder.ErrInvalid, "%s must be a number of cells, not %q", d.name, echoed(v))
		}
		*d.to = uint16(n)
	}
	if (req.Size.Cols == 0) != (req.Size.Rows == 0) {
		return req, warder.Errorf(warder.ErrInvalid, "cols and rows come together")
	}
	return req, req.Validate()
}

// endTerminal says how the session ended, as the last message, and
// closes the connection.
func (s *Server) endTerminal(r *http.Request, c *websocket.Conn, res warder.TerminalResult, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), keepAliveEvery)
	defer cancel()
	m := warder.TerminalMessage{Type: "exit", ExitCode: &res.ExitCode, Reason: res.Reason}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			c.CloseNow() // the client left, or the server is shutting down
			return
		}
		msg := warder.ErrorMessage(err)
		if msg == "" {
			s.log.ErrorContext(r.Context(), "terminal failed", "path", echoed(r.URL.Path), "err", err)
			msg = "internal error (request id " + r.Header.Get("X-Request-ID") + ")"
		}
		m = warder.TerminalMessage{Type: "error", Detail: clip(msg, maxDetail)}
	}
	b, _ := json.Marshal(m)
	if c.Write(ctx, websocket.MessageText, b) != nil {
		c.CloseNow()
		return
	}
	c.Close(websocket.StatusNormalClosure, m.Type)
}

// termSession is the WebSocket side of a terminal.
type termSession struct {
	conn   *websocket.Conn
	resize chan warder.TermSize
	cancel context.CancelFunc // ends the session
	closed func()
}

// read hands what the client types to typed and its resizes to the
// resize channel, until the client closes or errs: then the session
// ends (a hijacked connection's request context does not).
func (t *termSession) read(ctx context.Context, typed *io.PipeWriter) {
	defer t.cancel()
	defer typed.Close()
	for {
		kind, p, err := t.conn.Read(ctx)
		if err != nil {
			return
		}
		if kind == websocket.MessageBinary {
			if _, err := typed.Write(p); err != nil {
				return
			}
			continue
		}
		var m warder.TerminalMessage
		if json.Unmarshal(p, &m) != nil || m.Type != "resize" {
			continue // an unknown control message: newer clients may send more
		}
		size := warder.TermSize{Cols: m.Cols, Rows: m.Rows}
		if !size.Valid() {
			continue
		}
		select { // only the latest size matters
		case <-t.resize:
		default:
		}
		select {
		case t.resize <- size:
		default:
		}
	}
}
