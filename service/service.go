// Package service holds Warder's rules: who may see and do what, how an
// agent becomes a workload, and what its status is. It speaks only to the
// root package's Store and Runtime interfaces.
//
// It is split by feature, each a type with a small config of its own:
// Auth (users, tokens, keys), Agents (agents and their lifecycle),
// Observer (the runtime's events, resync, health probes, idle stops, and
// what callers read of running agents: logs, stats, status changes),
// Files (workspaces, files and exec), Chat (talking to agents), Admin and
// LLM (the LLM gateway's callers, budgets and usage).
// They share one core: the store, the runtime, the per-agent locks, the
// workloads' handles, and agentstate.go, the one place that writes an
// agent's status.
package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/warder/warder"
)

// Config is the part of Warder's configuration the rules need, by
// feature.
type Config struct {
	Logger *slog.Logger
	// Events is told of every status change this process records; nil
	// means nobody follows them.
	Events warder.EventBus
	// ExclusiveStore means no other Warder process shares the store (the
	// embedded SQLite default), so an operation recorded as in flight
	// that this process is not running was interrupted.
	ExclusiveStore bool
	// StartTimeout bounds one start; on a shared store, an in-flight
	// status older than this was interrupted.
	StartTimeout time.Duration
	// Agents talks to agents' ports: chat, the proxy and health probes;
	// nil refuses chat and proxy and probes nothing.
	Agents warder.AgentClient

	Auth      AuthConfig
	Lifecycle AgentsConfig
	Observe   ObserveConfig
	Chat      ChatConfig
	Workspace WorkspaceConfig
	Terminal  TerminalConfig // terminal sessions' bounds (terminal.go)
	Snapshots SnapshotConfig // where snapshots live, and their bounds (snapshots.go)
	LLM       LLMConfig      // the LLM gateway's usage and budgets (llm.go)
}

// Service is every feature, wired to one core; internal/app hands each
// to the API, which consumes them through its own interfaces (checked in
// internal/app).
type Service struct {
	Auth    *Auth
	Agents  *Agents
	Observe *Observer
	Files   *Files
	Chat    *Chat
	Admin   *Admin
	// Snapshots: take, list, restore, fork (snapshots.go).
	Snapshots *Snapshots
	// LLM: the LLM gateway's callers, budgets and usage (llm.go).
	LLM *LLM
}

// New returns the features on store and rt. It does not contact the
// runtime.
func New(store warder.Store, rt warder.Runtime, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	c := &core{store: store, rt: rt, log: cfg.Logger, events: cfg.Events, exclusive: cfg.ExclusiveStore, startTimeout: cfg.StartTimeout}
	auth := newAuth(store, cfg.Logger, cfg.Auth)
	agents := newAgents(c, cfg.Lifecycle)
	files := newFiles(c, agents, cfg.Workspace, cfg.Terminal)
	return &Service{
		Auth:      auth,
		Agents:    agents,
		Observe:   newObserver(c, agents, auth, cfg.Agents, cfg.Observe),
		Files:     files,
		Chat:      newChat(c, agents, cfg.Agents, cfg.Chat),
		Admin:     &Admin{core: c, agents: agents, auth: auth},
		Snapshots: newSnapshots(c, agents, files, cfg.Snapshots),
		LLM:       newLLM(c, agents, cfg.LLM),
	}
}

// Watch follows the runtime (see Observer.Watch).
func (s *Service) Watch(ctx context.Context) { s.Observe.Watch(ctx) }

// RunMaintenance runs the leader's periodic work (see
// Observer.RunMaintenance).
func (s *Service) RunMaintenance(ctx context.Context) { s.Observe.RunMaintenance(ctx) }

// core is what every feature shares.
type core struct {
	store        warder.Store
	rt           warder.Runtime
	log          *slog.Logger
	events       warder.EventBus
	exclusive    bool
	startTimeout time.Duration

	locks keyedMutex // one lifecycle operation per agent at a time
	work  workloads  // what is known of each running workload
}

// keyedMutex is a set of mutexes created on demand and dropped when unused.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// Lock locks key and returns its unlock function.
func (k *keyedMutex) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
