package warder

import (
	"context"
	"time"
)

// Labels Warder puts on every container it creates, so it can find its own.
const (
	LabelAgentID   = "warder.agent.id"
	LabelAgentName = "warder.agent.name"
	LabelUserID    = "warder.agent.user_id"
	LabelManaged   = "warder.managed"
)

// ContainerSpec is everything a runtime needs to create an agent's container.
// It is derived purely from an Agent and the operator's settings (see
// SpecFor), so it can be table-tested without a runtime.
type ContainerSpec struct {
	Name          string
	Image         string
	Env           map[string]string
	Labels        map[string]string
	MemoryBytes   int64
	NanoCPUs      int64
	PidsLimit     int64
	Network       string
	HostIP        string
	HostPort      int
	ContainerPort int
	// Internal puts the container on the deployment's internal network,
	// where nothing outside it can be reached; it publishes no port.
	Internal bool
	// RestartPolicy is Docker's: "no", "on-failure" or "unless-stopped";
	// MaxRetries bounds "on-failure" (0 = no bound).
	RestartPolicy string
	MaxRetries    int
	// AllowRoot lets an image that declares no user, or root, run as
	// root. Without it such an image runs as NonRootUser.
	AllowRoot bool
}

// NonRootUser is the user:group an agent runs as when its image would run
// it as root and the operator has not allowed that: nobody:nogroup.
const NonRootUser = "65534:65534"

// ContainerState is what the runtime reports about a container.
type ContainerState struct {
	ID         string
	Name       string
	AgentID    string // the LabelAgentID label
	Status     string // the runtime's word: "created", "running", "exited", ...
	Running    bool
	Restarting bool
	// ExitCode is meaningful once the container has exited.
	ExitCode     int
	OOMKilled    bool
	RestartCount int
	// Error is the runtime's reason a start failed, if any.
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	// Health is "healthy", "unhealthy", "starting" or "" (no healthcheck).
	Health string
	// IP is the container's address on its network, reachable from the
	// Docker host; "" when it has none (not running).
	IP string
}

// ContainerEvent is one change the runtime reports about one of this
// deployment's containers. Action is the runtime's word: "start", "die",
// "oom", "destroy", "restart", "health_status", ...
type ContainerEvent struct {
	ContainerID string
	AgentID     string
	Action      string
	Time        time.Time
}

// LogOptions selects container log lines.
type LogOptions struct {
	Lines      int // from the end; 0 means all
	Timestamps bool
	// Since keeps only lines written at or after it; zero keeps all.
	Since time.Time
	// Follow keeps StreamLogs going with new lines as they are written,
	// until the container stops. Logs ignores it.
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

// Runtime runs agent containers. The Docker implementation lives in
// package docker; a Kubernetes one may follow.
//
// Contract:
//   - Every method is safe for concurrent use.
//   - When the engine cannot be reached, methods return an error wrapping
//     ErrUnavailable; a container that does not exist is ErrNotFound.
//   - Setup is idempotent and must succeed before Create; call it again
//     after the engine comes back.
//   - Create makes a container from spec without starting it. If a container
//     with spec.Name already exists it returns ErrConflict.
//   - Start on a running container and Stop on a stopped one succeed.
//   - Remove force-removes; a container that is already gone is success, so
//     Remove is safe to call twice and after a failed Create or Start.
type Runtime interface {
	Ping(ctx context.Context) error
	Setup(ctx context.Context) error
	Create(ctx context.Context, spec ContainerSpec) (id string, err error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, timeout time.Duration) error
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, id string) (ContainerState, error)
	// Logs returns the output opts selects, one line per line, each cut
	// at MaxLogLineBytes; output over MaxLogsBytes is ErrTooLarge, and
	// no more of it is read.
	Logs(ctx context.Context, id string, opts LogOptions) (string, error)
	Stats(ctx context.Context, id string) (Stats, error)

	// StreamLogs calls fn for each line of the container's output that
	// opts selects, stdout and stderr told apart, in the order written,
	// each cut at MaxLogLineBytes.
	// It returns nil once the output ends (without Follow: every selected
	// line was sent; with Follow: the container stopped), ctx.Err() when
	// ctx ends, or fn's error when fn fails. Whatever ends it, the
	// engine's stream is released before it returns. fn runs on the
	// calling goroutine; while it blocks, the engine holds the output.
	StreamLogs(ctx context.Context, id string, opts LogOptions, fn func(LogLine) error) error
	// StatsStream follows the container's resource use, calling fn with a
	// sample about once a second (the engine's pace; the first comes once
	// a CPU figure can be computed, 1 to 2 s in) until ctx ends
	// (returning ctx.Err()) or the container stops (ErrConflict). It
	// releases the engine's stream before it returns. fn must be quick.
	StatsStream(ctx context.Context, id string, fn func(Stats)) error

	// List reports every container, running or not, labelled
	// LabelManaged=<the runtime's network>: this deployment's containers.
	List(ctx context.Context) ([]ContainerState, error)
	// Events calls fn for every event of this deployment's containers, in
	// order, from now until ctx ends (returning ctx.Err()) or the stream
	// breaks (returning an error wrapping ErrUnavailable when the engine
	// went away). ready is called once the stream is open, so a caller can
	// resync knowing no later change will be missed. fn must not block long.
	Events(ctx context.Context, ready func(), fn func(ContainerEvent)) error
}
