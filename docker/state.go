package docker

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/warder/warder"
)

// stateFrom is Warder's view of an inspect response, the one conversion
// Inspect and List share.
func (r *Runtime) stateFrom(c container.InspectResponse) warder.WorkloadState {
	return stateOf(c, r.dialHost(), r.onHost)
}

// dialHost is where Warder dials a published port: the bind address, or
// loopback when ports are published on every interface.
func (r *Runtime) dialHost() string {
	host := r.cfg.BindAddress
	if ip := net.ParseIP(host); host == "" || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return host
}

// stateOf is stateFrom with the dial host given, and onHost reporting
// whether a network's bridge is one of this host's interfaces (nil: none
// is). It is pure so it can be tested on recorded responses.
func stateOf(c container.InspectResponse, dialHost string, onHost func(network string) bool) warder.WorkloadState {
	st := warder.WorkloadState{
		ID:           c.ID,
		Name:         strings.TrimPrefix(c.Name, "/"),
		RestartCount: c.RestartCount,
	}
	agentPort := ""
	if c.Config != nil {
		st.AgentID, st.Pooled = agentOf(c.Config.Labels, st.Name)
		for p := range c.Config.ExposedPorts {
			agentPort = strconv.Itoa(int(p.Num()))
		}
	}
	if hc := c.HostConfig; hc != nil {
		for _, bs := range hc.PortBindings {
			for _, b := range bs {
				if n, err := strconv.Atoi(b.HostPort); err == nil && n > 0 {
					st.HostPort = n
				}
			}
		}
	}
	ip, ipOnHost := "", false
	if n := c.NetworkSettings; n != nil {
		for name, ep := range n.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				ip, ipOnHost = ep.IPAddress.String(), onHost != nil && onHost(name)
				break
			}
		}
	}
	if s := c.State; s != nil {
		st.Phase = phaseOf(s)
		st.ExitCode = s.ExitCode
		st.OOMKilled = s.OOMKilled
		st.Error = s.Error
		st.StartedAt = parseTime(s.StartedAt)
		st.FinishedAt = parseTime(s.FinishedAt)
		if s.Health != nil {
			st.Health = string(s.Health.Status)
		}
	}
	// Warder reaches a running agent at its published port or, when it
	// publishes none (internal), at its container address: the Docker
	// host reaches both. Its probes go to the container address whenever
	// this host is on the agent's bridge. A paused one keeps both.
	if st.Running() || st.Phase == warder.PhasePaused {
		direct := ""
		if ip != "" && agentPort != "" {
			direct = net.JoinHostPort(ip, agentPort)
		}
		switch {
		case st.HostPort != 0:
			st.Endpoint = net.JoinHostPort(dialHost, strconv.Itoa(st.HostPort))
			if ipOnHost {
				st.ProbeEndpoint = direct
			}
		default:
			st.Endpoint = direct
		}
	}
	return st
}

// phaseOf maps the engine's state to Warder's phases. A paused container
// still holds its process and memory, but runs nothing: paused (the
// engine's own Running flag stays set). "removing" and "dead" are on
// their way out: exited.
func phaseOf(s *container.State) warder.Phase {
	switch {
	case s.Restarting:
		return warder.PhaseRestarting
	case s.Paused:
		return warder.PhasePaused
	case s.Running:
		return warder.PhaseRunning
	case s.Status == container.StateCreated:
		return warder.PhaseCreated
	}
	return warder.PhaseExited
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

// agentOf is the agent a container is, from its labels and name: a warm
// pool's container carries no agent's labels, and is its agent's once a
// claim gave it the agent's ContainerName (pooled says it is one).
func agentOf(labels map[string]string, name string) (agentID string, pooled bool) {
	if labels[warder.LabelPool] == "" {
		return labels[warder.LabelAgentID], false
	}
	id, _ := strings.CutPrefix(strings.TrimPrefix(name, "/"), warder.ContainerName(""))
	if id == strings.TrimPrefix(name, "/") {
		id = "" // still the pool's
	}
	return id, true
}
