package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/logctx"
)

// execSlots counts the commands running now, per agent and per user, on
// this process.
type execSlots struct {
	mu      sync.Mutex
	byAgent map[string]int
	byUser  map[string]int
}

// take holds a slot for agent and user, or says which bound is reached.
func (e *execSlots) take(agentID, userID string, perAgent, perUser int) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byAgent == nil {
		e.byAgent, e.byUser = map[string]int{}, map[string]int{}
	}
	switch {
	case e.byAgent[agentID] >= perAgent:
		return nil, &warder.RateLimitError{Msg: fmt.Sprintf("%d commands already run in this agent, the most at once (WARDER_MAX_EXECS_PER_AGENT)", perAgent), RetryAfter: time.Second}
	case e.byUser[userID] >= perUser:
		return nil, &warder.RateLimitError{Msg: fmt.Sprintf("%d of your commands already run, the most at once (WARDER_MAX_EXECS_PER_USER)", perUser), RetryAfter: time.Second}
	}
	e.byAgent[agentID]++
	e.byUser[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.byAgent[agentID]--; e.byAgent[agentID] == 0 {
				delete(e.byAgent, agentID)
			}
			if e.byUser[userID]--; e.byUser[userID] == 0 {
				delete(e.byUser, userID)
			}
		})
	}, nil
}

// Exec runs req in the running agent as its own user. It is refused to
// read-only keys and for a disabled owner; the bounds on concurrent
// commands are the owner's. Each command is in the audit log with its
// command line and how it ended. A command still running at its timeout
// is killed (TimedOut); one whose caller leaves is killed too; and what a
// command leaves running when it exits is killed with it. The runtime's
// Exec returns only once none of the command's processes is left, so the
// command's slot, held until then, counts what is still alive.
func (s *Files) Exec(ctx context.Context, caller *warder.User, id string, req warder.ExecRequest, ready func(), out func(stream string, p []byte) error) (warder.ExecResult, error) {
	er, err := s.execs()
	if err != nil {
		return warder.ExecResult{}, err
	}
	timeout, err := req.Validate()
	if err != nil {
		return warder.ExecResult{}, err
	}
	if caller.ReadOnly {
		return warder.ExecResult{}, warder.Errorf(warder.ErrForbidden, "this API key is read-only: it cannot run commands")
	}
	a, err := s.owned(ctx, caller, id)
	if err != nil {
		return warder.ExecResult{}, err
	}
	if a.UserID != caller.ID {
		owner, err := s.store.UserByID(ctx, a.UserID)
		if err != nil {
			return warder.ExecResult{}, err
		}
		if owner.Disabled {
			return warder.ExecResult{}, warder.Errorf(warder.ErrForbidden, "the agent's owner %s is disabled", owner.Username)
		}
	}
	if a, err = s.agents.wake(ctx, caller, a, "exec"); err != nil {
		return warder.ExecResult{}, err
	}
	if a.ContainerID == "" || a.Status != warder.StatusRunning {
		return warder.ExecResult{}, warder.Errorf(warder.ErrConflict, "the agent is %s: commands run only in a running agent; start it first", a.Status)
	}
	c := s.cfg
	release, err := s.execSlots.take(a.ID, a.UserID, c.ExecsPerAgent, c.ExecsPerUser)
	if err != nil {
		return warder.ExecResult{}, err
	}
	defer release()
	s.touch(ctx, a)

	run, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spec := warder.ExecSpec{Cmd: req.Cmd, Env: req.Env}
	if req.Stdin != "" {
		spec.Stdin = strings.NewReader(req.Stdin)
	}
	start := time.Now()
	ready()
	code, err := er.Exec(run, a.ContainerID, spec, out)
	res := warder.ExecResult{ExitCode: code, DurationMS: time.Since(start).Milliseconds()}
	// Timed out, and its processes killed: a kill that failed (the
	// runtime's ErrUnavailable) stays an error, for the caller and the
	// audit.
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && !errors.Is(err, warder.ErrUnavailable) {
		res.TimedOut, res.ExitCode, err = true, 137, nil
	}
	s.auditExec(ctx, caller, a, req.Cmd, res, err)
	return res, err
}

// auditExec records one command and how it ended.
func (s *Files) auditExec(ctx context.Context, caller *warder.User, a *warder.Agent, cmd []string, res warder.ExecResult, err error) {
	line, _ := json.Marshal(cmd)
	action := "exec " + string(line)
	if len(action) > 1000 {
		action = strings.ToValidUTF8(action[:1000], "") + "…" // not inside a character
	}
	e := &warder.AuditEntry{
		At: time.Now().UTC(), UserID: caller.ID, Username: caller.Username,
		Action: action, AgentID: a.ID, Status: 200, RequestID: logctx.RequestID(ctx),
		Result: fmt.Sprintf("exit code %d", res.ExitCode),
	}
	switch {
	case err != nil:
		e.Err = err // the store sets Status from it (api.AuditStatuses)
		e.Result = errText(err)
	case res.TimedOut:
		e.Result = "killed at its timeout"
	}
	if aerr := s.store.RecordAudit(context.WithoutCancel(ctx), e); aerr != nil {
		s.log.ErrorContext(ctx, "recording an exec", "agent", a.ID, "err", aerr)
	}
}
