package opensandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// Bounds of the commands this process remembers (for status, logs and
// kill): output kept per command (its last 256 KiB), and finished
// commands kept per sandbox and in all; at most 64 MiB of output.
// Running commands are bounded by Warder's own exec slots
// (WARDER_MAX_EXECS_PER_AGENT and _PER_USER).
const (
	maxKeptOutput        = 256 << 10
	maxKeptFinished      = 16
	maxKeptFinishedTotal = 256
)

// command is one command run through execd, running or finished.
type command struct {
	id, sandbox, content string
	started              time.Time
	cancel               context.CancelFunc
	done                 chan struct{}

	mu       sync.Mutex
	out      []byte // the last maxKeptOutput bytes of its output
	dropped  int64  // bytes of output no longer kept
	exit     *int32
	errText  string
	finished *time.Time
}

func (c *command) write(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, p...)
	if over := len(c.out) - maxKeptOutput; over > 0 {
		c.out = append(c.out[:0], c.out[over:]...)
		c.dropped += int64(over)
	}
}

func (c *command) finish(code *int32, errText string) {
	c.mu.Lock()
	now := time.Now().UTC()
	c.exit, c.errText, c.finished = code, errText, &now
	c.mu.Unlock()
	close(c.done)
}

func (c *command) status() commandStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return commandStatus{ID: c.id, Content: c.content, Running: c.finished == nil, ExitCode: c.exit, Error: c.errText, StartedAt: c.started, FinishedAt: c.finished}
}

// since is the output from byte cursor on, and the cursor after it.
func (c *command) since(cursor int64) (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.dropped + int64(len(c.out))
	if cursor < c.dropped {
		cursor = c.dropped
	}
	if cursor > end {
		cursor = end
	}
	return string(c.out[cursor-c.dropped:]), end
}

// commands is this process's table of commands, by id.
type commands struct {
	mu   sync.Mutex
	byID map[string]*command
}

func newCommands() *commands { return &commands{byID: map[string]*command{}} }

func (t *commands) add(c *command) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byID[c.id] = c
	// Forget the oldest finished commands past the bounds: the sandbox's,
	// then everyone's.
	var mine, all []*command
	for _, o := range t.byID {
		if o.status().FinishedAt == nil {
			continue
		}
		all = append(all, o)
		if o.sandbox == c.sandbox {
			mine = append(mine, o)
		}
	}
	t.dropOldest(mine, maxKeptFinished)
	t.dropOldest(all, maxKeptFinishedTotal)
}

// dropOldest forgets the oldest of list (if still kept) until keep are left.
func (t *commands) dropOldest(list []*command, keep int) {
	if len(list) <= keep {
		return
	}
	slices.SortFunc(list, func(a, b *command) int { return a.started.Compare(b.started) })
	for _, o := range list[:len(list)-keep] {
		delete(t.byID, o.id)
	}
}

func (t *commands) get(sandbox, id string) *command {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byID[id]; c != nil && c.sandbox == sandbox {
		return c
	}
	return nil
}

// forget drops a deleted sandbox's commands, killing those that run.
func (t *commands) forget(sandbox string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, c := range t.byID {
		if c.sandbox == sandbox {
			c.cancel()
			delete(t.byID, id)
		}
	}
}

// shellQuote quotes s for a POSIX shell (and warder-agent's own).
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// execRequest is the Warder exec a command is run as: argv as it is, a
// command string through sh -c (the image's /bin/sh, or on the default
// image warder-agent's built-in shell, which Warder picks itself).
func execRequest(req runCommand) (wire.ExecRequest, error) {
	if req.UID != nil || req.GID != nil {
		return wire.ExecRequest{}, badRequest("uid and gid are not supported: commands run as the agent's own user")
	}
	var cmd []string
	switch {
	case len(req.Argv) > 0 && req.Command != "":
		return wire.ExecRequest{}, badRequest("give command or argv, not both")
	case len(req.Argv) > 0:
		if req.Cwd != "" {
			return wire.ExecRequest{}, badRequest("cwd is supported with command, not argv")
		}
		cmd = req.Argv
	case strings.TrimSpace(req.Command) == "":
		return wire.ExecRequest{}, badRequest("command is required")
	case req.Cwd != "":
		cmd = []string{"sh", "-c", "cd " + shellQuote(req.Cwd) + " && " + req.Command}
	default:
		cmd = []string{"sh", "-c", req.Command}
	}
	er := wire.ExecRequest{Cmd: cmd, Env: req.Envs}
	switch {
	case req.Timeout < 0:
		return wire.ExecRequest{}, badRequest("timeout %d must not be negative", req.Timeout)
	case req.Timeout > 0:
		er.Timeout = (time.Duration(req.Timeout) * time.Millisecond).String()
	case req.Background:
		er.Timeout = warder.MaxExecTimeout.String() // a server, say: Warder's longest
	}
	return er, nil
}

// runCommand runs a command and streams it as execd does: "init" with
// its id, its output as "stdout" and "stderr" events, then on a non-zero
// exit an "error" naming the code, and "execution_complete". A
// background command's stream ends after "init" (and
// "execution_complete"), and it runs on; status, logs and kill reach it
// by id. A foreground command is killed if its caller leaves.
func (h *Handler) runCommand(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	var req runCommand
	if err := decode(r, &req); err != nil {
		return err
	}
	er, err := execRequest(req)
	if err != nil {
		return err
	}
	if _, err := c.Agent(r.Context(), id); err != nil {
		return err
	}
	content := req.Command
	if content == "" {
		content = strings.Join(req.Argv, " ")
	}
	ctx := r.Context()
	if req.Background {
		ctx = background(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := &command{id: newID(), sandbox: id, content: content, started: time.Now().UTC(), cancel: cancel, done: make(chan struct{})}
	h.commands.add(cmd)

	sse := newEventStream(w)
	sse.send(streamEvent{Type: "init", Text: cmd.id})
	run := func(out func(stream, data string) error) {
		defer cancel()
		res, err := c.Exec(ctx, id, er, func(stream, data string) error {
			cmd.write(data)
			return out(stream, data)
		})
		switch {
		case err != nil:
			cmd.finish(nil, errorText(err))
		default:
			code := int32(res.ExitCode)
			msg := ""
			if res.TimedOut {
				msg = "killed at its timeout"
			}
			cmd.finish(&code, msg)
		}
	}
	if req.Background {
		go run(func(string, string) error { return nil })
		sse.send(streamEvent{Type: "execution_complete"})
		return nil
	}
	run(func(stream, data string) error { return sse.send(streamEvent{Type: stream, Text: data}) })
	st := cmd.status()
	elapsed := time.Since(cmd.started).Milliseconds()
	if st.ExitCode == nil {
		sse.send(streamEvent{Type: "error", Error: &eventError{EName: "CommandError", EValue: st.Error, Traceback: []string{st.Error}}})
		sse.send(streamEvent{Type: "execution_complete", ExecutionTime: elapsed})
		return nil
	}
	code := int(*st.ExitCode)
	if code != 0 {
		tb := []string{fmt.Sprintf("the command exited with code %d", code)}
		if st.Error != "" {
			tb = append(tb, st.Error)
		}
		sse.send(streamEvent{Type: "error", Error: &eventError{EName: "CommandExecError", EValue: strconv.Itoa(code), Traceback: tb, ExitCode: &code}})
	}
	sse.send(streamEvent{Type: "execution_complete", ExecutionTime: elapsed, ExitCode: &code})
	return nil
}

// errorText is what a command's caller is told of err.
func errorText(err error) string {
	if ce, ok := err.(*client.Error); ok {
		return ce.Detail
	}
	if err == context.Canceled {
		return "killed"
	}
	return err.Error()
}

// interruptCommand kills a command by id and waits (up to 10 s) until
// its processes are gone.
func (h *Handler) interruptCommand(w http.ResponseWriter, r *http.Request, c *client.Client, id string) error {
	cmd, err := h.ownedCommand(r, c, id, r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	cmd.cancel()
	select {
	case <-cmd.done:
	case <-time.After(10 * time.Second):
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) commandStatus(w http.ResponseWriter, r *http.Request, c *client.Client, id, cmdID string) error {
	cmd, err := h.ownedCommand(r, c, id, cmdID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cmd.status())
	return nil
}

// commandLogs answers a command's output from the cursor on, as text,
// with the next cursor in EXECD-COMMANDS-TAIL-CURSOR.
func (h *Handler) commandLogs(w http.ResponseWriter, r *http.Request, c *client.Client, id, cmdID string) error {
	cmd, err := h.ownedCommand(r, c, id, cmdID)
	if err != nil {
		return err
	}
	var cursor int64
	if v := r.URL.Query().Get("cursor"); v != "" {
		if cursor, err = strconv.ParseInt(v, 10, 64); err != nil || cursor < 0 {
			return badRequest("cursor %q is not a byte offset", v)
		}
	}
	out, next := cmd.since(cursor)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("EXECD-COMMANDS-TAIL-CURSOR", strconv.FormatInt(next, 10))
	_, _ = w.Write([]byte(out))
	return nil
}

// ownedCommand is command cmdID of sandbox id, once the caller is known
// to see the sandbox.
func (h *Handler) ownedCommand(r *http.Request, c *client.Client, id, cmdID string) (*command, error) {
	if _, err := c.Agent(r.Context(), id); err != nil {
		return nil, err
	}
	cmd := h.commands.get(id, cmdID)
	if cmd == nil {
		return nil, apiErr(http.StatusNotFound, "NOT_FOUND", "no command "+cmdID+" in this sandbox (this server keeps the last 16 finished ones of each sandbox, in memory)")
	}
	return cmd, nil
}

// eventStream writes Server-Sent Events, each flushed at once; after a
// failed write it writes nothing more.
type eventStream struct {
	w   http.ResponseWriter
	err error
}

func newEventStream(w http.ResponseWriter) *eventStream {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &eventStream{w: w}
}

func (s *eventStream) send(ev streamEvent) error {
	if s.err != nil {
		return s.err
	}
	if ev.Timestamp == 0 {
		ev.Timestamp = time.Now().UnixMilli()
	}
	b, _ := json.Marshal(ev)
	if _, s.err = fmt.Fprintf(s.w, "data: %s\n\n", b); s.err == nil {
		if f, ok := s.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	return s.err
}

// sendRaw writes v as one event's data.
func (s *eventStream) sendRaw(v any) error {
	if s.err != nil {
		return s.err
	}
	b, _ := json.Marshal(v)
	if _, s.err = fmt.Fprintf(s.w, "data: %s\n\n", b); s.err == nil {
		if f, ok := s.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	return s.err
}
