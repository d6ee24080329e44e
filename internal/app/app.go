// Package app is Warder wired together: configuration, the store, the
// runtime, the service, the HTTP API and the background work, and the
// commands (serve, setup, migrate, role, rotate-secrets) that use them.
// It is the only package that knows every other; cmd/warder calls it, and
// tests build a real Warder in-process with New.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/warder/warder"
	"github.com/warder/warder/agenthttp"
	"github.com/warder/warder/api"
	"github.com/warder/warder/broker"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/agentbin"
	"github.com/warder/warder/kubernetes"
	"github.com/warder/warder/logctx"
	"github.com/warder/warder/mcp"
	"github.com/warder/warder/metrics"
	"github.com/warder/warder/opensandbox"
	"github.com/warder/warder/secret"
	"github.com/warder/warder/service"
	"github.com/warder/warder/sqlstore"
	"github.com/warder/warder/stats"
	"github.com/warder/warder/web"
)

// App is Warder wired together: the only place that knows every package.
type App struct {
	store   *sqlstore.DB
	runtime Backend
	service *service.Service
	handler *api.Server
	// collector follows running agents' stats; metrics counts everything.
	collector *stats.Collector
	metrics   *metrics.Metrics
	// feed and bus carry status changes among replicas on PostgreSQL;
	// feed is nil on SQLite, where bus is the in-memory broker alone.
	feed *sqlstore.Feed
	bus  *broker.Broker
	log  *slog.Logger
	// egress is the egress proxy, served by Run (egress.go).
	egress *egressHub
	// llm is the LLM gateway (llm.go).
	llm *llmHub
	// expirer deletes OpenSandbox sandboxes past their expiration.
	expirer *opensandbox.Expirer
	// background tracks what Run started, so Close can wait for it.
	background sync.WaitGroup
}

// openStore opens the configured database and brings its schema up to date.
func openStore(ctx context.Context, cfg Config) (*sqlstore.DB, error) {
	if cfg.DatabaseURL != "" {
		return sqlstore.Open(ctx, cfg.DatabaseURL)
	}
	return sqlstore.OpenSQLite(ctx, cfg.sqlitePath(), cfg.SQLiteSync)
}

// Backend is a runtime as Warder's commands hold it: the contract, and a
// way to release it.
type Backend interface {
	warder.Runtime
	Close() error
}

// Opener opens a runtime without contacting its backend, so Warder starts
// even when it is down. ports keeps host-port claims; nil (setup)
// publishes none.
type Opener func(cfg Config, ports warder.PortStore, log *slog.Logger) (Backend, error)

// runtimes are the backends WARDER_RUNTIME names. A new backend is its
// package, passing internal/runtimetest, and one line here.
var runtimes = map[string]Opener{
	"docker":     openDocker,
	"kubernetes": openKubernetes,
}

// openRuntime returns the runtime WARDER_RUNTIME names.
func openRuntime(cfg Config, ports warder.PortStore, log *slog.Logger) (Backend, error) {
	open, ok := runtimes[cfg.Runtime]
	if !ok {
		return nil, fmt.Errorf("WARDER_RUNTIME %q is not a runtime this Warder has", cfg.Runtime)
	}
	return open(cfg, ports, log)
}

// openDocker returns the Docker runtime.
func openDocker(cfg Config, ports warder.PortStore, log *slog.Logger) (Backend, error) {
	var locks warder.Locker
	if l, ok := ports.(warder.Locker); ok && cfg.DatabaseURL != "" {
		locks = l // replicas may share the database, and the engine
	}
	return docker.New(docker.Config{
		Host:         cfg.DockerHost,
		Network:      cfg.Network,
		DefaultImage: cfg.Image,
		AgentBinary:  agentBinary(cfg),
		Logger:       log,
		Ports:        ports,
		PortStart:    cfg.PortStart,
		PortEnd:      cfg.PortEnd,
		BindAddress:  cfg.BindAddress,
		WarmPool:     cfg.WarmPool,
		Locks:        locks,
		// Sizes the warm pool's workspaces; an agent's names its own.
		WorkspaceDir:    cfg.WorkspaceDir,
		FilesHelperIdle: cfg.FilesHelperIdle,
		WorkspaceBytes:  max(cfg.WorkspaceBytes, 0),
		// Isolation levels (docker/gvisor.go).
		Isolations:    cfg.Isolations,
		GVisorRuntime: cfg.GVisorRuntime,
	})
}

// openKubernetes returns the Kubernetes runtime: agents as Pods in one
// namespace; host ports do not apply there.
func openKubernetes(cfg Config, _ warder.PortStore, log *slog.Logger) (Backend, error) {
	return kubernetes.New(kubernetes.Config{
		Kubeconfig:       cfg.Kubeconfig,
		Namespace:        cfg.K8sNamespace,
		StorageClass:     cfg.K8sStorageClass,
		ControlNamespace: cfg.K8sControlNamespace,
		HelperImage:      cfg.Image,
		Network:          cfg.Network,
		StartTimeout:     cfg.StartTimeout,
		Logger:           log,
		// Isolation levels (kubernetes/gvisor.go).
		Isolations:         cfg.Isolations,
		GVisorRuntimeClass: cfg.GVisorRuntimeClass,
		// The egress proxy's address, when WARDER_EGRESS_PROXY names one:
		// internal agents may reach it (kubernetes/setup.go).
		EgressProxy: egressProxyAddr(cfg.EgressProxy),
	})
}

// agentBinary finds the static warder-agent binary the default image is
// built around: WARDER_AGENT_BINARY, else warder-agent beside this
// executable, else a fresh build from this module's source.
func agentBinary(cfg Config) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if cfg.AgentBinary != "" {
			return cfg.AgentBinary, nil
		}
		if exe, err := os.Executable(); err == nil {
			p := filepath.Join(filepath.Dir(exe), "warder-agent")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		dir, err := os.MkdirTemp("", "warder-agent-build-")
		if err != nil {
			return "", err
		}
		return agentbin.Build(ctx, dir)
	}
}

// openSecrets returns the box that seals agents' secret_env: keyed by
// WARDER_SECRET_KEY (with WARDER_SECRET_KEY_PREVIOUS during a rotation),
// else by a key file in the data directory, created 0600 on first use.
func openSecrets(cfg Config) (*secret.Box, error) {
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		key, err = secret.ParseKey(cfg.SecretKey)
	} else {
		key, err = secret.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err != nil {
		return nil, fmt.Errorf("WARDER_SECRET_KEY: %w", err)
	}
	var previous [][]byte
	if cfg.SecretKeyPrevious != "" {
		k, err := secret.ParseKey(cfg.SecretKeyPrevious)
		if err != nil {
			return nil, fmt.Errorf("WARDER_SECRET_KEY_PREVIOUS: %w", err)
		}
		previous = append(previous, k)
	}
	return secret.NewBox(key, previous...)
}

// New wires Warder from cfg on the runtime cfg.Runtime names, opening
// (and migrating) the store; it contacts no runtime backend. Run starts
// the background work; Close releases everything.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	return NewWithRuntime(ctx, cfg, log, openRuntime)
}

// NewWithRuntime is New on the runtime open returns instead: an in-memory
// fake in tests that need no engine. open is given the store, which keeps
// host-port claims.
func NewWithRuntime(ctx context.Context, cfg Config, log *slog.Logger, open Opener) (*App, error) {
	log = slog.New(logctx.NewHandler(log.Handler())) // request ids in every line
	box, err := openSecrets(cfg)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rt, err := open(cfg, store, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	// Every Docker call goes through one instrumented runtime.
	m := metrics.New()
	m.WatchStore(store, cfg.PortStart, cfg.PortEnd)
	irt := m.Runtime(rt)
	bus := broker.New(0)
	var events warder.EventBus = bus
	var attempts warder.AttemptStore
	var locks warder.Locker
	// The feed is followed from the newest change now, before anyone can
	// subscribe (see sqlstore.DB.Feed).
	feed, err := store.Feed(ctx, log)
	if err != nil {
		rt.Close()
		store.Close()
		return nil, err
	}
	if feed != nil {
		// Replicas may share the database: they share status changes,
		// throttle counts and the quota lock through it.
		events, attempts, locks = sharedBus{Broker: bus, feed: feed}, store, store
	}
	llm, err := newLLMHub(cfg, log) // llm.go
	if err != nil {
		rt.Close()
		store.Close()
		return nil, err
	}
	eg, err := newEgress(cfg, rt, store, m, log, llm.origin()) // egress.go
	if err == nil {
		err = llm.useEgress(eg)
	}
	if err != nil {
		rt.Close()
		store.Close()
		return nil, err
	}
	var llmEnv func(string) (map[string]string, error)
	if llm.on() {
		llmEnv = llm.env
	}
	snaps, err := openSnapshotStore(cfg, log) // snapshots.go
	if err != nil {
		rt.Close()
		store.Close()
		return nil, err
	}
	collector := stats.New(irt, events, stats.Config{Keep: cfg.StatsHistory, FollowAll: cfg.StatsFollowAll, Logger: log})
	svc := service.New(api.AuditStatuses(store), irt, service.Config{
		Logger: log,
		Events: events,
		// The embedded SQLite file is one process's; PostgreSQL may be shared.
		ExclusiveStore: cfg.DatabaseURL == "",
		StartTimeout:   cfg.StartTimeout,
		Agents:         agenthttp.New(0),
		Auth: service.AuthConfig{
			TokenTTL:   cfg.TokenTTL,
			RefreshTTL: cfg.RefreshTTL,
			Attempts:   attempts,
			// Open unless said otherwise, so the seed's walk-through works.
			RegistrationClosed: cfg.Registration == "closed",
		},
		Lifecycle: service.AgentsConfig{
			DefaultImage: cfg.Image,
			Spec: warder.SpecSettings{Network: cfg.Network, AllowRoot: cfg.AllowRoot,
				Workspaces: rt.Parts().Workspaces != nil, WorkspaceBytes: max(cfg.WorkspaceBytes, 0), EgressProxy: eg.env,
				LLMGateway: llmEnv},
			StopTimeout: cfg.StopTimeout,
			Secrets:     box,
			Images:      service.ImagePolicy{Users: cfg.AllowedImages, Admins: cfg.AdminAllowedImages},
			Quota:       cfg.Quota,
			Egress:      service.EgressPolicy{Default: cfg.DefaultNetwork, Forbid: !cfg.AllowEgress, Lists: eg},
			Locks:       locks,
		},
		Observe: service.ObserveConfig{IdleInterval: cfg.IdleInterval, AutoPauseMinutes: cfg.AutoPauseMinutes, Stats: collector},
		Workspace: service.WorkspaceConfig{
			AgentBytes: cfg.WorkspaceBytes, UserBytes: cfg.WorkspaceBytesPerUser, UploadBytes: cfg.MaxUploadBytes,
			SpoolDir: filepath.Join(cfg.DataDir, "uploads"), ExecsPerAgent: cfg.MaxExecsPerAgent, ExecsPerUser: cfg.MaxExecsPerUser, FileOpsPerUser: cfg.MaxFileOpsPerUser,
		},
		Terminal:  service.TerminalConfig{Idle: cfg.TerminalIdle, MaxSession: cfg.TerminalMaxSession},
		Snapshots: service.SnapshotConfig{Store: snaps, PerAgent: cfg.Snapshots.PerAgent, UserBytes: cfg.Snapshots.UserBytes},
		LLM:       service.LLMConfig{Usage: store, Gateway: llm.on()},
	})
	if err := llm.wire(cfg, svc.LLM, store, m); err != nil {
		rt.Close()
		store.Close()
		return nil, err
	}
	sandboxKey, err := derivedKey(cfg, "warder opensandbox endpoint tokens v1")
	if err != nil {
		return nil, err
	}
	var osbErr error
	opts := api.Options{
		Auth:    svc.Auth,
		Agents:  svc.Agents,
		Observe: svc.Observe,
		Keys:    svc.Auth,
		Admin:   svc.Admin,
		Chat:    svc.Chat,
		Logger:  log,
		Ready: func(ctx context.Context) error {
			return errors.Join(store.Ping(ctx), rt.Ping(ctx))
		},
		Audit:    svc.Admin,
		Metrics:  m.Handler(),
		Observer: m,

		MaxStreamsPerUser: cfg.MaxStreamsPerUser,
		CORSOrigins:       cfg.CORSOrigins,
		UI:                web.New(),
		Workspaces:        svc.Files,
		MaxUploadBytes:    cfg.MaxUploadBytes,
		MCP:               func(self http.Handler) api.MCP { return mcp.NewHandler(self, log) },
		OpenSandbox: func(self http.Handler) http.Handler {
			osb, err := opensandbox.New(opensandbox.Options{API: self, Key: sandboxKey, Log: log})
			osbErr = err
			return osb
		},
		Snapshots: svc.Snapshots,
	}
	llm.apiOptions(&opts, svc.LLM)
	h := api.New(opts)
	if osbErr != nil {
		return nil, osbErr
	}
	expirer := &opensandbox.Expirer{Store: store, Agents: svc.Agents, Audit: svc.Admin, Log: log}
	return &App{store: store, runtime: rt, service: svc, handler: h, expirer: expirer, collector: collector, metrics: m, log: log, feed: feed, bus: bus, egress: eg, llm: llm}, nil
}

// Run starts the background work: preparing the runtime, the stats
// collector, following the status feed (PostgreSQL), and what one replica
// does for all while it holds the leadership lease (always, on SQLite):
// following the runtime's events (resync on taking the lease, at start-up
// and after every reconnect), maintenance (idle auto-stop, expired
// tokens, health probes) and keeping the warm pool filled. It returns at
// once; the work ends with ctx, and Wait and Close wait for it.
func (a *App) Run(ctx context.Context) {
	a.background.Go(func() { a.setupUntilDone(ctx) })
	a.background.Go(func() { a.service.Snapshots.RunCleanup(ctx) })
	a.background.Go(func() { a.egress.run(ctx, a.runtime) })
	a.background.Go(func() { a.llm.run(ctx, a.store) })
	if a.feed != nil {
		a.background.Go(func() { a.feed.Run(ctx, a.bus.Publish) })
	}
	a.background.Go(func() {
		a.store.Lead(ctx, a.log, a.metrics.Leading, func(ctx context.Context) {
			var lead sync.WaitGroup
			lead.Go(func() { a.service.Watch(ctx) })
			lead.Go(func() { a.service.RunMaintenance(ctx) })
			lead.Go(func() { a.expirer.Run(ctx) })
			if wp := a.runtime.Parts().WarmPool; wp != nil {
				lead.Go(func() { wp.KeepPool(ctx) })
			}
			lead.Wait()
		})
	})
	a.background.Go(func() { a.collector.Run(ctx) })
}

// Wait returns when the background work, whose context the caller has
// ended, has finished (each piece waits for what it started).
func (a *App) Wait() { a.background.Wait() }

// Close waits for the background work, then releases the runtime and the
// store: nothing writes to a closed store.
func (a *App) Close() error {
	a.Wait()
	return errors.Join(a.runtime.Close(), a.store.Close())
}

// Handler is the HTTP API. Its CloseStreams ends open streams, which an
// http.Server's Shutdown does not.
func (a *App) Handler() *api.Server { return a.handler }

// Store is the database Warder keeps its state in.
func (a *App) Store() *sqlstore.DB { return a.store }

// Runtime is the backend agents run on, as opened (not instrumented).
func (a *App) Runtime() Backend { return a.runtime }

// Service is Warder's rules, as the API calls them.
func (a *App) Service() *service.Service { return a.service }
