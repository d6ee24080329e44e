// Package docker implements warder.Runtime on the Docker Engine API.
//
// It speaks to the engine only through github.com/moby/moby/client (never
// the docker CLI), negotiates the API version on first use and works with
// engines down to API 1.41 (Docker 20.10). The conversion of a
// warder.WorkloadSpec into Docker's create request is pure and lives in
// convert.go; everything else is thin calls plus error mapping (errors.go).
package docker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/hostports"
)

var _ warder.Runtime = (*Runtime)(nil)

// Config says which engine to use and what Setup must provide there.
type Config struct {
	// Host is a DOCKER_HOST-style address ("unix:///var/run/docker.sock",
	// "tcp://host:2376"); "" means DOCKER_HOST or the default socket.
	Host string
	// APIVersion pins the Engine API version (e.g. "1.41"); "" negotiates
	// it with the engine on the first call, which is the default.
	APIVersion string
	// Network is the bridge network agents join (AGENT_NETWORK).
	Network string
	// DefaultImage is the agent image Setup builds when it is missing
	// (AGENT_IMAGE), e.g. "warder/agent:latest".
	DefaultImage string
	// AgentBinary returns the path of a static warder-agent binary. It is
	// called only when DefaultImage must be built; agentbin.Build is one
	// implementation.
	AgentBinary func(ctx context.Context) (string, error)
	// Logger is told of what Setup repairs; nil means slog.Default().
	Logger *slog.Logger

	// Ports keeps host-port claims; nil publishes no ports (Info says
	// HostPorts false), as does an empty range.
	Ports warder.PortStore
	// PortStart and PortEnd bound the host ports handed to agents
	// (AGENT_PORT_RANGE_START, AGENT_PORT_RANGE_END).
	PortStart, PortEnd int
	// BindAddress is the host address ports are published on
	// (AGENT_BIND_ADDRESS); "" means all interfaces.
	BindAddress string
	// PortFree reports whether nothing outside Warder listens on a host
	// port; nil means trying to listen on it at BindAddress.
	PortFree func(port int) bool

	// WarmPool is how many started containers of DefaultImage to keep
	// for agents to claim, of which limits (WARDER_WARM_POOL; pool.go);
	// none, the default, keeps none. It needs host ports.
	WarmPool []warder.PoolShape
	// Locks makes warm pool claims take turns among processes sharing
	// the store; nil means this process is alone.
	Locks warder.Locker

	// WorkspaceDir holds a size-bounded filesystem per workspace
	// (WARDER_WORKSPACE_DIR; boundedws.go), used when Warder runs as root
	// beside a local engine; "" keeps workspaces plain volumes, bounded
	// only on uploads.
	WorkspaceDir string
	// WorkspaceBytes sizes a workspace whose spec names no size (the
	// warm pool's); 0: such a workspace is a plain volume.
	WorkspaceBytes int64
	// FilesHelperIdle is how long a workspace's files helper stays up
	// with no call (fshelper.go); 0 means DefaultFilesHelperIdle.
	FilesHelperIdle time.Duration

	// Isolations are the levels agents may have, the default first
	// (warder.ParseIsolationPolicy); nil is runc alone. GVisorRuntime is
	// the engine runtime of level gvisor (WARDER_DOCKER_GVISOR_RUNTIME;
	// "" is DefaultGVisorRuntime), offered once Setup finds the engine
	// lists it (gvisor.go).
	Isolations    []warder.Isolation
	GVisorRuntime string
}

// Runtime runs agent containers on one Docker engine. It is safe for
// concurrent use; create it with New and release it with Close.
type Runtime struct {
	cfg Config
	cli *client.Client
	log *slog.Logger

	ports *hostports.Allocator // nil: no host ports
	pool  *pool                // nil: no warm pool

	// setupSem single-flights Setup, so concurrent callers never create two
	// networks of the same name (API 1.41 allows duplicates). It is a
	// channel rather than a mutex so a waiting caller can give up.
	setupSem chan struct{}

	bridges sync.Map // network name -> true: this host is on its bridge (bridges.go)

	fsHelpers fsHelpers // the files helpers this process started (fshelper.go)

	engine     engineKind     // Docker or Podman, once known
	bound      wsBound        // whether workspaces are bounded filesystems, once known
	warnShared sync.Once      // Setup's warning that Podman cannot isolate agents
	iso        isolationState // the engine's runtimes, once known (gvisor.go)
}

// New returns a Runtime for cfg. It does not contact the engine, so Warder
// can start while Docker is down; Ping tells whether it is up.
func New(cfg Config) (*Runtime, error) {
	opts := []client.Opt{client.WithTLSClientConfigFromEnv(), client.WithHostFromEnv()}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	// An explicit pin wins over DOCKER_API_VERSION; the client library
	// would otherwise prefer the environment.
	if cfg.APIVersion != "" {
		opts = append(opts, client.WithAPIVersion(cfg.APIVersion))
	} else {
		opts = append(opts, client.WithAPIVersionFromEnv())
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Runtime{cfg: cfg, cli: cli, log: log, setupSem: make(chan struct{}, 1)}
	if cfg.Ports != nil && cfg.PortStart > 0 && cfg.PortEnd >= cfg.PortStart {
		free := cfg.PortFree
		if free == nil {
			free = hostports.ListenFree(cfg.BindAddress)
		}
		r.ports = hostports.New(cfg.Ports, cfg.PortStart, cfg.PortEnd, free)
		if len(cfg.WarmPool) > 0 {
			r.pool = newPool(cfg.WarmPool)
		}
	}
	return r, nil
}

// Info names the runtime and how it behaves: host ports when it has a
// port range and a store for the claims, and Docker's restart policies.
func (r *Runtime) Info() warder.RuntimeInfo {
	info := warder.RuntimeInfo{Name: "docker", RestartPolicies: true, BoundedRestarts: true}
	if r.ports != nil {
		info.HostPorts = true
		info.HostPortRange = r.ports.Range()
	}
	info.Isolations = r.isolations()
	return info
}

// Parts: workspaces (named volumes, their files through the files
// helpers), exec and a pushed stats stream always; the warm pool when
// configured and the engine is Docker (on Podman a pool container could
// not be configured through an attach; see docs/podman.md).
func (r *Runtime) Parts() warder.RuntimeParts {
	p := warder.RuntimeParts{Workspaces: r, Files: r, Exec: r, Stats: r, Pause: r}
	if r.pool != nil && !r.engine.seen.Load() {
		p.WarmPool = r
	}
	return p
}

// Close releases the client's idle connections.
func (r *Runtime) Close() error { return r.cli.Close() }

// APIVersion is the Engine API version in use: the pinned one, or the
// negotiated one once a call has reached the engine.
func (r *Runtime) APIVersion() string { return r.cli.ClientVersion() }

// Ping reports whether the engine answers; any failure is ErrUnavailable.
func (r *Runtime) Ping(ctx context.Context) error {
	_, err := r.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return warder.Errorf(warder.ErrUnavailable, "Docker is unavailable: %v", err)
	}
	return nil
}
