package service

import (
	"fmt"

	"github.com/warder/warder"
)

// crashLoopRestarts is how many restarts in a row make a crash loop.
const crashLoopRestarts = 3

// derive is the truth table of agent status: what the agent's status should
// be, given what it was and the container's state (nil: no such container).
// It is pure so every case is table-tested; reconcile applies its answer.
func derive(a *warder.Agent, st *warder.WorkloadState) (warder.Status, string) {
	if st == nil {
		if a.ContainerID == "" {
			return a.Status, a.StatusReason
		}
		return warder.StatusMissing, "the container was removed outside Warder"
	}
	switch {
	case st.Restarting() && st.RestartCount >= crashLoopRestarts:
		return warder.StatusFailed, fmt.Sprintf("crash loop: restarted %d times, last exit code %d", st.RestartCount, st.ExitCode)
	case st.Restarting():
		return warder.StatusStarting, fmt.Sprintf("restarting after exit code %d", st.ExitCode)
	case st.Running():
		if a.Status == warder.StatusStopping {
			return a.Status, a.StatusReason // a stop is under way
		}
		return warder.StatusRunning, ""
	case a.Status == warder.StatusStopping, a.Status == warder.StatusStopped:
		return warder.StatusStopped, a.StatusReason
	case st.OOMKilled:
		return warder.StatusFailed, "OOMKilled: the agent ran out of memory (limit " + a.ContainerConfig.MemoryLimit + ")"
	case st.Phase == warder.PhaseCreated:
		if a.Status == warder.StatusStarting {
			return a.Status, a.StatusReason // a start is under way
		}
		return warder.StatusCreated, "container created but never started"
	case st.ExitCode != 0 && st.RestartCount >= crashLoopRestarts:
		return warder.StatusFailed, fmt.Sprintf("crash loop: exited with code %d after %d restarts", st.ExitCode, st.RestartCount)
	case st.Error != "":
		return warder.StatusFailed, "start failed: " + st.Error
	}
	return warder.StatusExited, fmt.Sprintf("exited with code %d", st.ExitCode)
}

// inFlight reports whether status means an operation was under way.
func inFlight(s warder.Status) bool {
	return s == warder.StatusStarting || s == warder.StatusStopping
}
