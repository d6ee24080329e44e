package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/logctx"
)

// TerminalConfig bounds terminal sessions (Config.Terminal). Each
// session also holds one of the exec slots (WorkspaceConfig's
// ExecsPerAgent and ExecsPerUser) while it lasts.
type TerminalConfig struct {
	// Idle ends a session in which nothing was typed, drawn or resized
	// for this long; 0 means DefaultTerminalIdle.
	Idle time.Duration
	// MaxSession ends any session this long after it opened; 0 means
	// DefaultTerminalMaxSession.
	MaxSession time.Duration
}

// Terminal bounds' defaults.
const (
	DefaultTerminalIdle       = 15 * time.Minute
	DefaultTerminalMaxSession = 4 * time.Hour
)

// limits are c with the defaults filled in.
func (c TerminalConfig) limits() (idle, max time.Duration) {
	idle, max = c.Idle, c.MaxSession
	if idle <= 0 {
		idle = DefaultTerminalIdle
	}
	if max <= 0 {
		max = DefaultTerminalMaxSession
	}
	return idle, max
}

// The causes a session is cut for.
var (
	errTerminalIdle   = errors.New("idle")
	errTerminalMaxAge = errors.New("max session")
)

// Terminal runs an interactive command with a terminal in the running
// agent, as Exec runs a command: refused to read-only keys and for a
// disabled owner, holding one of the owner's exec slots until every
// process of it has ended, and in the audit log once, when it ends, with
// its command line and how it ended. t.Ready is called once the session
// may start (the caller upgrades its connection then); an error before
// it is the caller's to answer as usual. The session ends when the
// command exits, when ctx ends, after the idle timeout with nothing
// typed or drawn, or at the longest session allowed; a command cut short
// is killed (exit code 137).
func (s *Files) Terminal(ctx context.Context, caller *warder.User, id string, req warder.TerminalRequest, t warder.TerminalIO) (warder.TerminalResult, error) {
	er, err := s.execs()
	if err != nil {
		return warder.TerminalResult{}, err
	}
	if err := req.Validate(); err != nil {
		return warder.TerminalResult{}, err
	}
	a, err := s.terminalTarget(ctx, caller, id)
	if err != nil {
		return warder.TerminalResult{}, err
	}
	c := s.cfg
	release, err := s.execSlots.take(a.ID, a.UserID, c.ExecsPerAgent, c.ExecsPerUser)
	if err != nil {
		return warder.TerminalResult{}, err
	}
	defer release()
	if err := t.Ready(); err != nil {
		return warder.TerminalResult{}, err
	}
	s.touch(ctx, a)

	idle, max := s.term.limits()
	run, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	run, stopMax := context.WithTimeoutCause(run, max, errTerminalMaxAge)
	defer stopMax()
	var active atomic.Int64 // unix nanoseconds of the last activity
	active.Store(time.Now().UnixNano())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watchTerminal(run, a, idle, &active, cancel)
	}()
	spec := warder.ExecSpec{Cmd: req.Cmd, Stdin: activeReader{t.Stdin, &active}, TTY: &warder.TTY{Size: req.Size, Resize: t.Resize}}
	start := time.Now()
	code, err := er.Exec(run, a.ContainerID, spec, func(_ string, p []byte) error {
		active.Store(time.Now().UnixNano())
		return t.Out(p)
	})
	cancel(nil)
	<-watched
	res := warder.TerminalResult{ExitCode: code, Reason: warder.TerminalExited, Duration: time.Since(start)}
	if err != nil && ctx.Err() == nil && !errors.Is(err, warder.ErrUnavailable) {
		switch context.Cause(run) {
		case errTerminalIdle:
			res.Reason, res.ExitCode, err = warder.TerminalIdle, 137, nil
		case errTerminalMaxAge:
			res.Reason, res.ExitCode, err = warder.TerminalMaxAge, 137, nil
		}
	}
	s.auditTerminal(ctx, caller, a, req.Cmd, res, err)
	return res, err
}

// terminalTarget is the running agent id, if caller may open a terminal
// in it (the checks Exec makes).
func (s *Files) terminalTarget(ctx context.Context, caller *warder.User, id string) (*warder.Agent, error) {
	if caller.ReadOnly {
		return nil, warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot open a terminal")
	}
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if a.UserID != caller.ID {
		owner, err := s.store.UserByID(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		if owner.Disabled {
			return nil, warder.Errorf(warder.ErrForbidden, "the agent's owner %s is disabled", owner.Username)
		}
	}
	if a, err = s.agents.wake(ctx, caller, a, "terminal"); err != nil {
		return nil, err
	}
	if a.ContainerID == "" || a.Status != warder.StatusRunning {
		return nil, warder.Errorf(warder.ErrConflict, "the agent is %s: a terminal opens only in a running agent; start it first", a.Status)
	}
	return a, nil
}

// watchTerminal cuts the session (cancel with errTerminalIdle) once
// nothing happened in it for idle, and meanwhile marks the agent used
// while the session is active, so an idle stop does not take it.
func (s *Files) watchTerminal(ctx context.Context, a *warder.Agent, idle time.Duration, active *atomic.Int64, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(min(idle/4, touchEvery))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			last := time.Unix(0, active.Load())
			if now.Sub(last) >= idle {
				cancel(errTerminalIdle)
				return
			}
			if last.After(a.LastUsedAt) {
				s.touch(ctx, a)
			}
		}
	}
}

// activeReader notes the time of every read that got something.
type activeReader struct {
	r      io.Reader
	active *atomic.Int64
}

func (a activeReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.active.Store(time.Now().UnixNano())
	}
	return n, err
}

// auditTerminal records one terminal session and how it ended.
func (s *Files) auditTerminal(ctx context.Context, caller *warder.User, a *warder.Agent, cmd []string, res warder.TerminalResult, err error) {
	action := "terminal"
	if len(cmd) > 0 {
		line, _ := json.Marshal(cmd)
		action += " " + string(line)
	}
	if len(action) > 1000 {
		action = strings.ToValidUTF8(action[:1000], "") + "…"
	}
	e := &warder.AuditEntry{
		At: time.Now().UTC(), UserID: caller.ID, Username: caller.Username,
		Action: action, AgentID: a.ID, Status: 200, RequestID: logctx.RequestID(ctx),
		Result: fmt.Sprintf("exit code %d after %s", res.ExitCode, res.Duration.Round(time.Second)),
	}
	switch {
	case err != nil && ctx.Err() != nil:
		e.Result = "the client left; the command was killed"
	case err != nil:
		e.Err = err // the store sets Status from it (api.AuditStatuses)
		e.Result = errText(err)
	case res.Reason == warder.TerminalIdle:
		e.Result = "killed after the idle timeout"
	case res.Reason == warder.TerminalMaxAge:
		e.Result = "killed at the longest session allowed"
	}
	if aerr := s.store.RecordAudit(context.WithoutCancel(ctx), e); aerr != nil {
		s.log.ErrorContext(ctx, "recording a terminal session", "agent", a.ID, "err", aerr)
	}
}
