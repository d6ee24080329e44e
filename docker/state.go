package docker

import (
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/warder/warder"
)

// stateFrom is Warder's view of an inspect response, the one conversion
// Inspect and List share. It is pure so it can be tested on recorded
// responses.
func stateFrom(c container.InspectResponse) warder.ContainerState {
	st := warder.ContainerState{
		ID:           c.ID,
		Name:         strings.TrimPrefix(c.Name, "/"),
		RestartCount: c.RestartCount,
	}
	if c.Config != nil {
		st.AgentID = c.Config.Labels[warder.LabelAgentID]
	}
	if n := c.NetworkSettings; n != nil {
		for _, ep := range n.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				st.IP = ep.IPAddress.String()
				break
			}
		}
	}
	if s := c.State; s != nil {
		st.Status = string(s.Status)
		st.Running = s.Running
		st.Restarting = s.Restarting
		st.ExitCode = s.ExitCode
		st.OOMKilled = s.OOMKilled
		st.Error = s.Error
		st.StartedAt = parseTime(s.StartedAt)
		st.FinishedAt = parseTime(s.FinishedAt)
		if s.Health != nil {
			st.Health = string(s.Health.Status)
		}
	}
	return st
}

// parseTime reads the engine's RFC 3339 timestamps. The engine writes
// "0001-01-01T00:00:00Z" for "never", which is Go's zero time; anything
// unreadable is treated the same, as an unknown time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return time.Time{}
	}
	return t
}
