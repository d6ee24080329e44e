package wire

import "time"

// AgentEvent is one recorded status change of an agent.
type AgentEvent struct {
	ID      int64     `json:"id"`
	AgentID string    `json:"agent_id"`
	At      time.Time `json:"at"`
	From    Status    `json:"from"`
	To      Status    `json:"to"`
	Reason  string    `json:"reason"`
	// Actor is who or what caused it: "user:<id>", "docker", "resync", "idle".
	Actor string `json:"actor"`
}

// StatusChange is one agent status change as a Warder process recorded it,
// for whoever follows changes as they happen.
type StatusChange struct {
	// ID numbers the change: ids grow in the order changes are recorded,
	// so a follower that reconnects asks for those after the last it saw
	// (EventBus.Since; SSE's Last-Event-ID). On PostgreSQL it is the
	// change's place in the feed every replica shares.
	ID          int64     `json:"id,omitempty"`
	AgentID     string    `json:"agent_id"`
	AgentName   string    `json:"agent_name"`
	UserID      string    `json:"user_id"`
	ContainerID string    `json:"container_id"`
	From        Status    `json:"from"`
	To          Status    `json:"to"`
	Reason      string    `json:"reason"`
	Actor       string    `json:"actor"`
	At          time.Time `json:"at"`
}

// The streams of a container's output.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// LogLine is one line of a container's output.
type LogLine struct {
	// Stream is StreamStdout or StreamStderr.
	Stream string `json:"stream"`
	// Time is when the container wrote the line; set only when the
	// LogOptions asked for Timestamps.
	Time time.Time `json:"time,omitzero"`
	// Text is the line without its line ending, cut at MaxLogLineBytes.
	Text string `json:"line"`
}
