package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/warder/warder"
)

// Exec through the API server: pods/{name}/exec upgraded to a WebSocket
// that carries the process's streams, one channel byte before each
// message's data (the channel.k8s.io protocols). Version 5 adds a way to
// close standard input; version 4 servers get stdin without an end.
const (
	protoV5 = "v5.channel.k8s.io"
	protoV4 = "v4.channel.k8s.io"

	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanClose  = 255

	// execMessageBytes bounds one message from the API server; the
	// kubelet sends output in pieces far smaller.
	execMessageBytes = 1 << 20
)

// execStatus is what the error channel says when the process ends.
type execStatus struct {
	Status  string `json:"status"` // "Success" or "Failure"
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Details struct {
		Causes []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"causes"`
	} `json:"details"`
}

// exitCode reads the process's exit code from its status: 0 on success,
// the ExitCode cause of a NonZeroExitCode failure. Any other failure is
// the exec itself failing (no such program, say): 127 and the message,
// as a shell would answer.
func (s execStatus) exitCode() (int, string) {
	if s.Status == "Success" {
		return 0, ""
	}
	for _, c := range s.Details.Causes {
		if c.Reason == "ExitCode" {
			if n, err := strconv.Atoi(c.Message); err == nil {
				return n, ""
			}
		}
	}
	return 127, s.Message
}

// execIn runs cmd in the container of pod name, writing stdin (if not
// nil) to it and calling out with each piece of its output, and returns
// its exit code. When ctx ends first the stream is closed and ctx.Err()
// returned; whether the process dies with it is the caller's to see to.
func (r *Runtime) execIn(ctx context.Context, name, ctr string, cmd []string, stdin io.Reader, out func(stream string, p []byte) error) (int, error) {
	q := url.Values{"container": {ctr}, "stdout": {"true"}, "stderr": {"true"}, "command": cmd}
	if stdin != nil {
		q.Set("stdin", "true")
	}
	u := r.api.base + r.podPath(name) + "/exec?" + q.Encode()
	h := http.Header{}
	if r.api.token != "" {
		h.Set("Authorization", "Bearer "+r.api.token)
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: r.api.stream, HTTPHeader: h, Subprotocols: []string{protoV5, protoV4},
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, execDialError(name, resp, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(execMessageBytes)
	if stdin != nil {
		go sendStdin(ctx, conn, stdin)
	}
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				// Closed without a status: the API server ends the stream
				// so only when the process has ended and said nothing.
				return 0, warder.Errorf(warder.ErrUnavailable, "exec in pod %s: the stream ended without an exit status", name)
			}
			return 0, warder.Errorf(warder.ErrUnavailable, "exec in pod %s: %v", name, err)
		}
		if len(msg) < 2 {
			continue // a channel's opening frame
		}
		switch msg[0] {
		case chanStdout, chanStderr:
			stream := warder.StreamStdout
			if msg[0] == chanStderr {
				stream = warder.StreamStderr
			}
			if err := out(stream, msg[1:]); err != nil {
				return 0, fnError{err}
			}
		case chanError:
			var st execStatus
			if err := json.Unmarshal(msg[1:], &st); err != nil {
				return 0, warder.Errorf(warder.ErrUnavailable, "exec in pod %s: unreadable status: %v", name, err)
			}
			code, why := st.exitCode()
			if why != "" {
				if err := out(warder.StreamStderr, []byte(why+"\n")); err != nil {
					return 0, fnError{err}
				}
			}
			conn.Close(websocket.StatusNormalClosure, "")
			return code, nil
		}
	}
}

// fnError is the caller's own error from out, returned as it is.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// sendStdin copies stdin to the process and then closes it (on v5).
func sendStdin(ctx context.Context, conn *websocket.Conn, stdin io.Reader) {
	buf := make([]byte, 1+32<<10)
	buf[0] = chanStdin
	for {
		n, err := stdin.Read(buf[1:])
		if n > 0 {
			if conn.Write(ctx, websocket.MessageBinary, buf[:1+n]) != nil {
				return
			}
		}
		if err != nil {
			break
		}
	}
	if conn.Subprotocol() == protoV5 {
		conn.Write(ctx, websocket.MessageBinary, []byte{chanClose, chanStdin})
	}
}

// execDialError maps a refused upgrade to Warder's kinds.
func execDialError(name string, resp *http.Response, err error) error {
	if resp == nil {
		return warder.Errorf(warder.ErrUnavailable, "exec in pod %s: %v", name, err)
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return warder.Errorf(warder.ErrNotFound, "exec in pod %s: no such pod", name)
	case http.StatusBadRequest:
		// The pod or its container does not run (yet, or any more).
		return warder.Errorf(warder.ErrConflict, "exec in pod %s: %v", name, err)
	}
	return warder.Errorf(warder.ErrUnavailable, "exec in pod %s: %d %v", name, resp.StatusCode, err)
}

// collect gathers a command's output into w (stdout) and a bounded
// buffer (stderr), for the helpers' short answers.
type collect struct {
	stdout io.Writer
	stderr strings.Builder
}

func (c *collect) out(stream string, p []byte) error {
	if stream == warder.StreamStdout {
		_, err := c.stdout.Write(p)
		return err
	}
	if c.stderr.Len() < 4<<10 {
		c.stderr.Write(p[:min(len(p), 4<<10-c.stderr.Len())])
	}
	return nil
}

// Exec runs spec in the agent's container, as the agent's own user and
// with its restrictions (an exec adds no privilege on Kubernetes). The
// exec API has no environment and no way to kill what it started, so in
// the default image (which has /warder-agent) the command runs under
// `warder-agent with-env MARKER`, which adds spec.Env and is a child
// subreaper: everything the command starts, however it forks, re-execs
// or changes its environment, stays below it (see builtinWithEnv), and
// is killed when the command exits. When ctx ends first, or the stream
// fails, `warder-agent kill-exec -tree MARKER` kills that whole tree,
// and Exec returns only once it has. In other images spec.Env is refused
// and a timeout ends the stream but not the process (docs/kubernetes.md).
func (r *Runtime) Exec(ctx context.Context, id string, spec warder.ExecSpec, out func(stream string, p []byte) error) (int, error) {
	if spec.TTY != nil {
		// The channel protocol has a terminal (tty=true, resize on channel
		// 4), but with-env, which bounds an exec here, is not one's session
		// leader yet: refused (501) rather than run without a terminal.
		return 0, warder.Errorf(warder.ErrNotSupported, "terminals are not on the Kubernetes runtime yet: use exec (docs/terminal.md)")
	}
	rec, err := r.record(ctx, id)
	if err != nil {
		return 0, err
	}
	p, err := r.getPod(ctx, rec)
	if err != nil {
		return 0, err
	}
	var st warder.WorkloadState
	if p != nil {
		podState(&st, p)
	}
	if p == nil || !st.Running() {
		return 0, warder.Errorf(warder.ErrConflict, "the agent is not running: start it first")
	}
	ws, err := specOf(rec)
	if err != nil {
		return 0, err
	}
	cmd, marker := spec.Cmd, ""
	switch {
	case r.cfg.HelperImage != "" && ws.Image == r.cfg.HelperImage:
		marker = randomHex(12)
		cmd = wrapExec(marker, spec)
	case len(spec.Env) > 0:
		return 0, warder.Errorf(warder.ErrInvalid, "env on exec needs the default agent image on Kubernetes, whose exec API has no environment; pass the values as arguments")
	}
	code, err := r.execIn(ctx, p.Metadata.Name, containerName, cmd, spec.Stdin, out)
	if err != nil && marker != "" {
		// Timed out, abandoned, or the stream broke: the command may run on.
		err = errors.Join(err, r.killExec(p.Metadata.Name, marker))
	}
	var fe fnError
	if errors.As(err, &fe) {
		return 0, fe.err
	}
	return code, err
}

// wrapExec is spec's command under with-env, which adds spec.Env and
// keeps every process of the exec below it, named by marker.
func wrapExec(marker string, spec warder.ExecSpec) []string {
	cmd := append([]string{agentBinary, "with-env", marker}, envPairs(spec.Env)...)
	return append(append(cmd, "--"), spec.Cmd...)
}

// killExec kills the processes of the exec marked marker (the with-env
// wrapper's tree), in the same container and as the same user, on a
// context of its own: the caller's may have ended.
func (r *Runtime) killExec(podName, marker string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c collect
	c.stdout = io.Discard
	code, err := r.execIn(ctx, podName, containerName, []string{agentBinary, "kill-exec", "-tree", marker}, nil, c.out)
	if err == nil && code != 0 {
		err = fmt.Errorf("kill-exec exited %d: %s", code, c.stderr.String())
	}
	if err != nil {
		r.log.Error("killing the processes of an exec", "pod", podName, "err", err)
		return warder.Errorf(warder.ErrUnavailable, "the command's processes could not all be killed: %v", err)
	}
	return nil
}

// envPairs is env as sorted KEY=VALUE arguments.
func envPairs(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func execErr(op string, code int, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit %d", code)
	}
	return fmt.Errorf("%s: %s", op, msg)
}
