// Package service holds Warder's rules: who may see and do what, how an
// agent becomes a container, and how host ports are handed out. It speaks
// only to the root package's Store and Runtime interfaces.
package service

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warder/warder"
)

// Config is the part of Warder's configuration the rules need.
type Config struct {
	DefaultImage string
	Spec         warder.SpecSettings
	TokenTTL     time.Duration
	// RefreshTTL is how long a refresh token lasts (7 days by default;
	// never shorter than TokenTTL).
	RefreshTTL time.Duration
	// StopTimeout is how long a container gets to exit after SIGTERM.
	StopTimeout time.Duration
	Logger      *slog.Logger
	// ExclusiveStore means no other Warder process shares the store (the
	// embedded SQLite default), so an operation recorded as in flight
	// that this process is not running was interrupted.
	ExclusiveStore bool
	// StartTimeout bounds one start; on a shared store, an in-flight
	// status older than this was interrupted.
	StartTimeout time.Duration
	// IdleInterval is how often idle agents are looked for.
	IdleInterval time.Duration
	// Stats answers stats reads from samples already taken; nil means
	// asking the runtime on every read (and no history or streams).
	Stats warder.StatsReader
	// Events is told of every status change this process records; nil
	// means nobody follows them.
	Events warder.EventBus
	// Secrets seals secret_env; nil refuses agents with secrets.
	Secrets Sealer
	// Agents speaks to agents' ports for chat; nil refuses chat and proxy.
	Agents warder.AgentClient
	// ReadyTimeout bounds the wait for an agent to answer on its port
	// after an on-demand start (default 30 s).
	ReadyTimeout time.Duration
	// Images is the image policy.
	Images ImagePolicy
	// Egress is the operator's network policy.
	Egress EgressPolicy
	// Quota is the operator's default per-user limits; an admin's
	// per-user overrides take precedence. 0 or nil is unlimited.
	Quota warder.Limits
	// RegistrationClosed refuses registration but for the first user of
	// an empty database; admins create the others.
	RegistrationClosed bool
	// HashWorkers is how many password hashes may run at once; 0 means
	// half the CPUs, at least one.
	HashWorkers int
	// Attempts keeps the login and registration throttles' counts; nil
	// keeps them in memory, for this process alone. Replicas sharing a
	// database share them (the store).
	Attempts warder.AttemptStore
	// Locks makes one user's quota checks take turns with the changes
	// they guard across processes; nil means this process is alone.
	Locks warder.Locker
	// HealthEvery is how often running agents' /health is probed
	// (default 10 s).
	HealthEvery time.Duration
	// Workspace bounds workspaces, uploads and exec (on a runtime with
	// them; see Spec.Workspaces).
	Workspace WorkspaceConfig
	Terminal  TerminalConfig // terminal sessions' bounds (terminal.go)
	// CredentialTTL is how long a token or key that authenticated is
	// believed without asking the store again, and so how late a
	// revocation made by another process bites here; 0 means
	// DefaultCredentialTTL, negative means every request asks the store.
	CredentialTTL time.Duration
}

// Service implements the services api/ consumes (api.AuthService,
// api.AgentService, ...; internal/app checks it).
type Service struct {
	store warder.Store
	rt    warder.Runtime
	cfg   Config
	log   *slog.Logger

	locks keyedMutex // one lifecycle operation per agent at a time

	logins        throttle    // failed logins by account and address
	registrations throttle    // registrations by address
	hashes        *hasher     // bounds concurrent bcrypt work
	runtimeUp     atomic.Bool // the runtime's event stream is open
	oomKilled     sync.Map    // container id -> true: an "oom" event since its last start
	endpoints     sync.Map    // container id -> reach: where it answers, while it runs
	probes        sync.Map    // container id -> probe: Warder's view of its health
	recorded      sync.Map    // container id -> recordedAs: see noteRecorded
	changed       sync.Map    // container id -> time.Time: see noteReceived
	execSlots     execSlots   // commands running now, per agent and user
	fileSlots     fileSlots   // files calls running now, per user
	creds         credentialCache
}

// New returns a Service. It does not contact the runtime.
func New(store warder.Store, rt warder.Runtime, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.IdleInterval == 0 {
		cfg.IdleInterval = 30 * time.Second
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	cfg.RefreshTTL = max(cfg.RefreshTTL, cfg.TokenTTL)
	if cfg.CredentialTTL == 0 {
		cfg.CredentialTTL = DefaultCredentialTTL
	}
	cfg.Workspace.defaults()
	s := &Service{store: store, rt: rt, cfg: cfg, log: cfg.Logger, hashes: newHasher(cfg.HashWorkers)}
	s.creds.ttl = cfg.CredentialTTL
	s.logins.what, s.registrations.what = "failed logins", "registrations from this address"
	s.logins.kind, s.registrations.kind = "login:", "register:"
	attempts := cfg.Attempts
	if attempts == nil {
		attempts = &memAttempts{}
	}
	s.logins.store, s.registrations.store = attempts, attempts
	return s
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
