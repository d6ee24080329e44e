package warder

import (
	"context"
	"strings"
	"time"
)

// Labels Warder puts on every container it creates, so it can find its own.
const (
	LabelAgentID   = "warder.agent.id"
	LabelAgentName = "warder.agent.name"
	LabelUserID    = "warder.agent.user_id"
	LabelManaged   = "warder.managed"
)

// WorkloadSpec is everything a runtime needs to create an agent's
// workload (a container on Docker). It is derived purely from an Agent and
// the operator's settings (see SpecFor), so it can be table-tested without
// a runtime. Everything in it is in Warder's terms; each runtime turns it
// into its own.
type WorkloadSpec struct {
	// Name is the workload's name, derived from AgentID (ContainerName).
	Name    string
	AgentID string
	Image   string
	Env     map[string]string
	Labels  map[string]string
	// MemoryBytes is a hard limit: over it the agent is OOM-killed (no
	// swap). MilliCPUs is its CPU share in thousandths of a CPU. 0 is
	// unlimited for both.
	MemoryBytes int64
	MilliCPUs   int64
	PidsLimit   int64
	// Port is the TCP port the agent listens on.
	Port int
	// Publish asks for Port to be reachable where Warder's users can
	// reach it: a port on the host, on a runtime with Info().HostPorts;
	// a runtime without ignores it. Warder itself always reaches a
	// running agent at WorkloadState.Endpoint.
	Publish bool
	// Internal keeps the agent from reaching anything beyond the runtime's
	// own network: no egress.
	Internal bool
	// Restart is what the runtime does when the agent exits; only
	// RestartNever on a runtime without Info().RestartPolicies.
	Restart RestartPolicy
	// AllowRoot lets an image that declares no user, or root, run as
	// root. Without it such an image runs as NonRootUser.
	AllowRoot bool
	// Workspace is the agent's persistent storage, mounted writable at
	// its MountPath and kept when the workload is removed; nil for none.
	// Only on a runtime with Parts().Workspaces.
	Workspace *WorkspaceSpec
	// Isolation is the agent's level (isolation.go); "" is the
	// runtime's default, the first of Info().Isolations.
	Isolation Isolation
}

// RestartMode is when a runtime restarts an agent that exited.
type RestartMode string

// The restart modes, named as users write them in container_config.
const (
	RestartNever         RestartMode = "no"
	RestartOnFailure     RestartMode = "on-failure"     // after a non-zero exit
	RestartUnlessStopped RestartMode = "unless-stopped" // after any exit but a stop
)

// RestartPolicy is a RestartMode and, for RestartOnFailure, the most
// restarts in a row (0: no bound).
type RestartPolicy struct {
	Mode       RestartMode
	MaxRetries int
}

// NonRootUser is the user:group an agent runs as when its image would run
// it as root and the operator has not allowed that: nobody:nogroup.
const NonRootUser = "65534:65534"

// Phase is where an agent's workload is in its life.
type Phase string

// The phases every runtime reports in.
const (
	PhaseCreated    Phase = "created"    // made, never started
	PhaseRunning    Phase = "running"    // its process runs
	PhaseRestarting Phase = "restarting" // it exited; the restart policy starts it again
	PhaseExited     Phase = "exited"     // it stopped or ended; see ExitCode, OOMKilled
	PhasePaused     Phase = "paused"     // frozen with its memory: see Pauser
)

// WorkloadState is what the runtime reports about one workload.
type WorkloadState struct {
	ID      string
	Name    string
	AgentID string // the LabelAgentID label
	Phase   Phase
	// ExitCode is meaningful once the workload has exited.
	ExitCode     int
	OOMKilled    bool
	RestartCount int
	// Error is the runtime's reason a start failed, if any.
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	// Health is "healthy", "unhealthy", "starting" or "" (no health check).
	Health string
	// Endpoint is the host:port at which Warder reaches the agent's Port
	// while it runs; "" when it does not.
	Endpoint string
	// ProbeEndpoint is where Warder's health probes reach the agent when
	// that is not Endpoint: its own address on a network this host is on,
	// which skips the port proxy of the engine (docker-proxy relays every
	// connection to a published port on loopback). "" means Endpoint.
	// Only probes use it: a container address is handed to another
	// container once this one stops, while a host port stays the agent's.
	ProbeEndpoint string
	// HostPort is the port published for the agent on the host, 0 for
	// none (see WorkloadSpec.Publish).
	HostPort int
	// Pooled says a warm pool made the workload and a claim handed it to
	// AgentID (WarmPool): it is that agent's only if the store records
	// its id, and is never adopted by its name.
	Pooled bool
}

// Running reports whether the workload's process runs.
func (s WorkloadState) Running() bool { return s.Phase == PhaseRunning }

// Restarting reports whether the runtime is about to start it again.
func (s WorkloadState) Restarting() bool { return s.Phase == PhaseRestarting }

// EventKind is what happened to a workload.
type EventKind string

// The kinds of event every runtime reports.
const (
	EventCreated   EventKind = "created"
	EventStarted   EventKind = "started" // started, or restarted by its policy
	EventExited    EventKind = "exited"  // its process ended, whatever the cause
	EventOOMKilled EventKind = "oom_killed"
	EventRemoved   EventKind = "removed"
	EventPaused    EventKind = "paused"
	EventResumed   EventKind = "resumed"
	EventHealth    EventKind = "health"  // its health changed; inspect for it
	EventChanged   EventKind = "changed" // anything else that may change its state
)

// WorkloadEvent is one change the runtime reports about one of this
// deployment's workloads.
type WorkloadEvent struct {
	ContainerID string
	AgentID     string
	Kind        EventKind
	Time        time.Time
}

// RuntimeInfo names a runtime and says how it behaves where runtimes
// differ. What it can do beyond the contract (its optional parts) is
// Parts, not flags here.
type RuntimeInfo struct {
	Name string // "docker"
	// HostPorts: Publish gives agents a port on the host, from
	// HostPortRange ("9000-9500").
	HostPorts     bool
	HostPortRange string
	// RestartPolicies: the runtime restarts agents by WorkloadSpec.Restart.
	RestartPolicies bool
	// BoundedRestarts: on-failure:N restarts at most N times and then
	// leaves the workload exited (Docker, Podman; Kubernetes has no bound).
	BoundedRestarts bool
	// Isolations are the levels agents may have here, the default first
	// (the operator's policy, less what the backend cannot give); none
	// means runc only.
	Isolations []Isolation
}

// RuntimeParts are a runtime's optional parts, each nil when the runtime
// lacks it: Warder asks for a part and finds it or nil, never a part
// that is there but refuses. Wrappers (the metrics one) wrap only the
// parts that exist.
type RuntimeParts struct {
	// Workspaces lists, measures and removes workspaces, and Files reads
	// and writes their files; a runtime has both or neither, and mounts
	// WorkloadSpec.Workspace when it has them.
	Workspaces WorkspaceRuntime
	Files      FileRuntime
	// Exec runs commands in running workloads.
	Exec ExecRuntime
	// Stats pushes resource samples; without it Warder polls
	// Observer.Stats.
	Stats StatsStreamer
	// WarmPool keeps started workloads to hand to agents.
	WarmPool WarmPool
	// Pause freezes running workloads and thaws them.
	Pause Pauser
}

// Pauser is the optional part that freezes a running workload's
// processes, keeping their memory, its endpoint and its host port, and
// thaws them again. A paused workload uses no CPU; Inspect reports it
// PhasePaused, with its Endpoint. Pause of a paused workload and Resume
// of a running one succeed; Pause or Resume of one that does not run is
// ErrConflict, of one that does not exist ErrNotFound. Neither inspects:
// resuming is on the path of a request to a paused agent, and what it
// reaches is known (running, where it ran).
type Pauser interface {
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
}

// PortStore keeps host-port claims, so processes sharing a database never
// hand out one port twice. The store implements it; a runtime with
// HostPorts uses it.
type PortStore interface {
	// ClaimPort gives port to the agent if no other agent holds it and the
	// agent holds none (ErrConflict otherwise). Atomic across processes.
	ClaimPort(ctx context.Context, agentID string, port int) error
	// ReleasePort frees whatever port the agent holds. Safe to call twice.
	ReleasePort(ctx context.Context, agentID string) error
	// UsedPorts lists every port held by any agent.
	UsedPorts(ctx context.Context) ([]int, error)
	// PortOf is the port the agent holds, 0 for none.
	PortOf(ctx context.Context, agentID string) (int, error)
}

// LogOptions selects container log lines.
// AllLines is LogOptions.Lines for every line in a request to the API or
// the service (lines=all), where 0 with Follow means only new lines; the
// runtimes get 0.
const AllLines = -1

type LogOptions struct {
	Lines      int // from the end; 0 means all (AllLines in a request)
	Timestamps bool
	// Since keeps only lines written at or after it; zero keeps all.
	Since time.Time
	// Follow keeps StreamLogs going with new lines as they are written,
	// until the container stops. CollectLogs ignores it.
	Follow bool
}

// Stats is one sample of a container's resource use.
type Stats struct {
	CPUPercent       float64   `json:"cpu_percent"`
	MemoryBytes      uint64    `json:"memory_bytes"`
	MemoryLimitBytes uint64    `json:"memory_limit_bytes"`
	NetworkRxBytes   uint64    `json:"network_rx_bytes"`
	NetworkTxBytes   uint64    `json:"network_tx_bytes"`
	BlockReadBytes   uint64    `json:"block_read_bytes"`
	BlockWriteBytes  uint64    `json:"block_write_bytes"`
	Pids             uint64    `json:"pids"`
	ReadAt           time.Time `json:"read_at"`
}

// Runtime runs agents' workloads: containers on Docker (package docker),
// and whatever a second backend makes. internal/runtimetest holds the
// conformance suite every implementation passes.
//
// Contract:
//   - Every method is safe for concurrent use. Warder calls the lifecycle
//     methods for one agent under that agent's lock, never two at once.
//   - When the backend cannot be reached, methods return an error wrapping
//     ErrUnavailable; a workload that does not exist is ErrNotFound.
//   - Setup is idempotent and must succeed before Create; call it again
//     after the backend comes back.
//   - Create makes the agent's workload from spec without starting it, and
//     returns its id; every later call names it by that id. A leftover
//     workload of the same name (from a create interrupted before its id
//     was saved) is replaced. On a runtime with HostPorts, Create claims
//     the agent's host port (keeping the one it holds when still free) or
//     releases it when spec.Publish is false.
//   - Start on a running workload and Stop on a stopped one succeed. A
//     successful Start reports the workload's state as Inspect would at
//     that moment (running, or already ended: a process that exits at
//     once), Endpoint included. A failed Start leaves the workload for
//     Remove.
//   - Remove force-removes, giving up the host port it was published on; a
//     workload that is already gone is success, so Remove is safe to call
//     twice and after a failed Create or Start. It is the one call that
//     also takes the spec's Name instead of an id: for a workload whose
//     create was interrupted before its id was saved.
//   - Inspect reports Endpoint while the workload runs.
type Runtime interface {
	// Info names the runtime and how it behaves; it never contacts the
	// backend.
	Info() RuntimeInfo
	// Parts are the optional parts the runtime has now; it never contacts
	// the backend, but what it says may change once the backend is known
	// (Podman has no warm pool).
	Parts() RuntimeParts
	Ping(ctx context.Context) error
	Setup(ctx context.Context) error
	Lifecycle
	Observer
	Inventory
}

// Lifecycle makes, runs, stops and removes workloads (see Runtime for
// the contract of each call).
type Lifecycle interface {
	Create(ctx context.Context, spec WorkloadSpec) (id string, err error)
	// Start runs the workload and reports the state it reached, so the
	// caller needs no Inspect after it.
	Start(ctx context.Context, id string) (WorkloadState, error)
	Stop(ctx context.Context, id string, timeout time.Duration) error
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, id string) (WorkloadState, error)
}

// Observer reads what workloads do: their output, resource use and
// changes. CollectLogs builds a whole answer on StreamLogs.
type Observer interface {
	// StreamLogs calls fn for each line of the container's output that
	// opts selects, stdout and stderr told apart, in the order written,
	// each cut at MaxLogLineBytes, with its Time when opts asks for
	// Timestamps.
	// It returns nil once the output ends (without Follow: every selected
	// line was sent; with Follow: the container stopped), ctx.Err() when
	// ctx ends, or fn's error when fn fails. Whatever ends it, the
	// engine's stream is released before it returns. fn runs on the
	// calling goroutine; while it blocks, the engine holds the output.
	StreamLogs(ctx context.Context, id string, opts LogOptions, fn func(LogLine) error) error
	Stats(ctx context.Context, id string) (Stats, error)
	// Events calls fn for every event of this deployment's containers, in
	// order, from now until ctx ends (returning ctx.Err()) or the stream
	// breaks (returning an error wrapping ErrUnavailable when the engine
	// went away). ready is called once the stream is open, so a caller can
	// resync knowing no later change will be missed. fn must not block long.
	Events(ctx context.Context, ready func(), fn func(WorkloadEvent)) error
}

// Inventory says which workloads of this deployment exist.
type Inventory interface {
	// List reports every workload of this deployment, running or not
	// (on Docker: labelled LabelManaged=<AGENT_NETWORK>).
	List(ctx context.Context) ([]WorkloadState, error)
	// Running names the workloads of this deployment whose process runs
	// now, by id: what List says, without the rest of each one's state,
	// so it costs one call however many there are (List inspects each
	// container on Docker).
	Running(ctx context.Context) ([]string, error)
}

// StatsStreamer is the optional part that pushes resource samples.
type StatsStreamer interface {
	// StatsStream follows the resource use, calling fn with a sample
	// about once a second (the engine's pace; the first comes once a CPU
	// figure can be computed, 1 to 2 s in) until ctx ends (returning
	// ctx.Err()) or the container stops (ErrConflict). It releases the
	// engine's stream before it returns. fn must be quick.
	StatsStream(ctx context.Context, id string, fn func(Stats)) error
}

// CollectLogs returns the output opts selects as text, one line per line
// (with Timestamps, each line starts with its time as Docker writes it:
// RFC 3339 with nine fractional digits, then a space), built on
// StreamLogs for every runtime. Output over MaxLogsBytes is ErrTooLarge,
// and no more of it is read: the lines asked for are the newest, and the
// oldest come first, so a cut answer would be the wrong part.
func CollectLogs(ctx context.Context, o Observer, id string, opts LogOptions) (string, error) {
	opts.Follow = false
	var out strings.Builder
	err := o.StreamLogs(ctx, id, opts, func(l LogLine) error {
		text := l.Text
		if opts.Timestamps {
			text = l.Time.UTC().Format(LogTimeFormat) + " " + text
		}
		if out.Len()+len(text)+1 > MaxLogsBytes {
			return Errorf(ErrTooLarge, "the logs asked for are over %d MiB, the most answered at once", MaxLogsBytes>>20)
		}
		out.WriteString(text)
		out.WriteByte('\n')
		return nil
	})
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// LogTimeFormat is how a log line's time is written in text: Docker's
// own form, RFC 3339 with nine fractional digits.
const LogTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"
