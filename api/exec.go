package api

import (
	"net/http"

	"github.com/warder/warder"
)

// execAgent runs a command in the agent and streams it as Server-Sent
// Events: "stdout" and "stderr" events of {data} as the command writes
// them, in order, then "exit" with {exit_code, timed_out, duration_ms},
// or "error" with {detail} if it could not be run to its end. An error
// before the command starts is an ordinary error answer.
func (s *Server) execAgent(w http.ResponseWriter, r *http.Request, caller *warder.User) error {
	ws, err := s.wsService()
	if err != nil {
		return err
	}
	var req warder.ExecRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if _, err := req.Validate(); err != nil {
		return err
	}
	ctx, cancel, err := s.streamContext(r, caller)
	if err != nil {
		return err
	}
	defer cancel()
	var out *stream
	stopAlive := func() {}
	closed := func() {}
	res, err := ws.Exec(ctx, caller, r.PathValue("id"), req, func() {
		closed = s.obs.StreamOpened("exec")
		out = openSSE(w)
		stopAlive = out.keepAlive(keepAliveEvery, cancel)
	}, func(stream string, p []byte) error {
		return out.event(stream, warder.ExecOutput{Data: string(p)})
	})
	if out == nil {
		return err
	}
	stopAlive()
	defer closed()
	defer out.close()
	switch {
	case r.Context().Err() != nil, out.err != nil:
		return nil // the client is gone; the command was killed
	case err != nil:
		msg := warder.ErrorMessage(err)
		if msg == "" {
			s.log.ErrorContext(r.Context(), "exec failed", "path", echoed(r.URL.Path), "err", err)
			msg = "internal error (request id " + r.Header.Get("X-Request-ID") + ")"
		}
		out.event("error", warder.ErrorResponse{Detail: msg})
		return nil
	}
	out.event("exit", res)
	return nil
}
