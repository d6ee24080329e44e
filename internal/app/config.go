package app

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/api"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/egress"
	"github.com/warder/warder/kubernetes"
	"github.com/warder/warder/sqlstore"
)

// Config is Warder's whole configuration, read once from the environment
// (the seed's variable names) and overridable by flags of the same meaning.
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	// SQLiteSync is how the embedded database's commits wait for the
	// disk (WARDER_SQLITE_SYNCHRONOUS: normal, the default, or full).
	SQLiteSync   sqlstore.Synchronous
	Network      string
	Image        string
	PortStart    int
	PortEnd      int
	BindAddress  string
	TokenTTL     time.Duration
	StopTimeout  time.Duration
	DockerHost   string
	AgentBinary  string
	LogFormat    string
	LogLevel     string
	SetupTimeout time.Duration
	StartTimeout time.Duration
	IdleInterval time.Duration
	// AutoPauseMinutes pauses running agents unused that long unless their
	// own container_config.auto_pause_minutes says otherwise
	// (WARDER_AUTO_PAUSE_MINUTES); 0 never.
	AutoPauseMinutes float64
	// StatsHistory is how far back ?history= reaches (WARDER_STATS_HISTORY);
	// 0 means the collector's default, 10 minutes.
	StatsHistory time.Duration
	// RefreshTTL is how long a refresh token lasts (WARDER_REFRESH_TTL,
	// 7 days; never shorter than TokenTTL).
	RefreshTTL time.Duration
	// StatsFollowAll follows every running agent's stats from its start
	// (WARDER_STATS_FOLLOW=all) rather than from its first read (=read,
	// the default): see package stats.
	StatsFollowAll bool
	// SecretKey and SecretKeyPrevious seal agents' secret_env; with no
	// key, one is kept in <data dir>/secret.key.
	SecretKey         string
	SecretKeyPrevious string
	// AllowedImages and AdminAllowedImages are the image policy: comma-
	// separated globs; empty allows the default image only.
	AllowedImages      []string
	AdminAllowedImages []string
	// Quota is the default per-user limits (WARDER_QUOTA_*); 0 is unlimited.
	Quota warder.Limits
	// DefaultNetwork is "egress" or "internal"; AllowEgress false forbids
	// "egress" to every agent.
	DefaultNetwork string
	AllowEgress    bool
	// Runtime names the backend agents run on (WARDER_RUNTIME): "docker"
	// or "kubernetes".
	Runtime string
	// Kubeconfig (KUBECONFIG) and K8sNamespace (WARDER_K8S_NAMESPACE) are
	// the kubernetes runtime's cluster and namespace; no kubeconfig means
	// the credentials of the pod Warder runs in.
	Kubeconfig   string
	K8sNamespace string
	// K8sStorageClass (WARDER_K8S_STORAGE_CLASS) is the StorageClass of
	// agents' workspace claims; "" is the cluster's default.
	K8sStorageClass string
	// K8sControlNamespace (WARDER_K8S_CONTROL_NAMESPACE) is the only
	// namespace whose pods labelled warder.io/control-plane=true may reach
	// agents; "" is Warder's own pod's namespace in the cluster, else the
	// agents' namespace.
	K8sControlNamespace string
	// AllowRoot lets images without a non-root USER run as root.
	AllowRoot bool
	// Registration is "open" (anyone may register) or "closed" (only the
	// first user of an empty database; admins create the others).
	Registration string
	// MaxStreamsPerUser bounds each user's open streams on this process.
	MaxStreamsPerUser int
	// MaxConnections and MaxConnectionsPerAddress bound the API's open
	// connections, in total and per client address (an IPv6 /64)
	// (WARDER_MAX_CONNECTIONS, WARDER_MAX_CONNECTIONS_PER_ADDRESS); 0 means
	// the default, which Validate fills in: see defaultMaxConnections.
	MaxConnections           int
	MaxConnectionsPerAddress int
	// CORSOrigins are the origins whose browser pages may call the API
	// (WARDER_CORS_ORIGINS, comma-separated, or *); none: CORS is off.
	CORSOrigins []string
	// WorkspaceBytes bounds one agent's workspace, WorkspaceBytesPerUser
	// all of a user's (WARDER_MAX_WORKSPACE_BYTES[_PER_USER]); 0 means
	// the default, -1 no bound. MaxUploadBytes bounds one upload
	// (WARDER_MAX_UPLOAD_BYTES; 0: the default).
	WorkspaceBytes        int64
	WorkspaceBytesPerUser int64
	MaxUploadBytes        int64
	// WorkspaceDir holds a filesystem of WorkspaceBytes per workspace, so
	// what agents write is bounded too, not only uploads
	// (WARDER_WORKSPACE_DIR; default <data dir>/workspaces; "off": plain
	// volumes). It takes effect where Warder runs as root beside a local
	// Docker or Podman engine; see docker/boundedws.go.
	WorkspaceDir string
	// FilesHelperIdle is how long a workspace's files helper stays up
	// with no call (WARDER_FILES_HELPER_IDLE; 0: docker's default).
	FilesHelperIdle time.Duration
	// MaxExecsPerAgent and MaxExecsPerUser bound the commands running at
	// once (WARDER_MAX_EXECS_PER_AGENT, WARDER_MAX_EXECS_PER_USER).
	MaxExecsPerAgent int
	MaxExecsPerUser  int
	// TerminalIdle and TerminalMaxSession bound terminal sessions: one
	// with nothing typed or drawn for TerminalIdle ends, and any ends
	// after TerminalMaxSession (WARDER_TERMINAL_IDLE_TIMEOUT, default
	// 15m; WARDER_TERMINAL_MAX_SESSION, default 4h).
	TerminalIdle       time.Duration
	TerminalMaxSession time.Duration
	// MaxFileOpsPerUser bounds one user's files calls running at once
	// (WARDER_MAX_FILE_OPS_PER_USER).
	MaxFileOpsPerUser int
	// Snapshots: where agents' snapshots live and their bounds
	// (snapshots.go; docs/snapshots.md).
	Snapshots SnapshotSettings
	// WarmPool is how many started containers of the default image the
	// Docker runtime keeps for agents' starts, of which limits
	// (WARDER_WARM_POOL; none by default; see docs/operations.md).
	WarmPool []warder.PoolShape
	// Isolations are the isolation levels agents may have, the default
	// first (WARDER_AGENT_ISOLATION, WARDER_AGENT_ISOLATION_ALLOWED:
	// warder.ParseIsolationPolicy). GVisorRuntime is the Docker engine's
	// runtime for gvisor (WARDER_DOCKER_GVISOR_RUNTIME, default runsc),
	// GVisorRuntimeClass Kubernetes' (WARDER_K8S_GVISOR_RUNTIME_CLASS,
	// default gvisor). See docs/security.md, "Isolation levels".
	Isolations         []warder.Isolation
	GVisorRuntime      string
	GVisorRuntimeClass string
	// EgressDefault and EgressCeiling are the operator's default and
	// ceiling of agents' container_config.egress ("none", "all" or
	// destinations; WARDER_EGRESS_DEFAULT, unset: the default network
	// decides; WARDER_EGRESS_CEILING, unset: all, or none when
	// WARDER_ALLOW_EGRESS=false). EgressProxy is where the egress proxy
	// listens (WARDER_EGRESS_PROXY: auto, the internal network's gateway
	// on Docker; off; or IP:PORT). See egress.go and docs/egress.md.
	EgressDefault, EgressCeiling []string
	EgressProxy                  string
	// EgressResolver resolves the proxy's names (nil: the system's) and
	// EgressSummaryEvery is how often its refusals are audited (0: a
	// minute): tests' hooks, with no variable of their own.
	EgressResolver     egress.Resolver
	EgressSummaryEvery time.Duration
	// LLMUpstreams are the LLM gateway's model providers
	// (WARDER_LLM_UPSTREAM_*; none: no gateway, and agents get no
	// OPENAI_* variables). LLMGatewayURL is where agents reach Warder's
	// /llm (WARDER_LLM_GATEWAY_URL; auto: the egress proxy's address on
	// Docker). The default budgets are in Quota. See llm.go and
	// docs/egress.md.
	LLMUpstreams  []LLMUpstream
	LLMGatewayURL string
	// LLMSummaryEvery is how often budget refusals are audited (0: a
	// minute): a test's hook, with no variable.
	LLMSummaryEvery time.Duration
}

// LoadConfig reads the environment, then flags; args excludes the
// subcommand. The result is validated.
func LoadConfig(args []string) (Config, error) {
	c := Config{
		Addr:              env("WARDER_ADDR", ":8000"),
		DataDir:           env("WARDER_DATA_DIR", "./data"),
		DatabaseURL:       env("WARDER_DATABASE_URL", ""),
		Network:           env("AGENT_NETWORK", "warder_network"),
		Image:             env("AGENT_IMAGE", "warder/agent:latest"),
		BindAddress:       env("AGENT_BIND_ADDRESS", "127.0.0.1"),
		DockerHost:        env("DOCKER_HOST", ""),
		AgentBinary:       env("WARDER_AGENT_BINARY", ""),
		LogFormat:         env("WARDER_LOG_FORMAT", "text"),
		LogLevel:          env("WARDER_LOG_LEVEL", "info"),
		SecretKey:         env("WARDER_SECRET_KEY", ""),
		SecretKeyPrevious: env("WARDER_SECRET_KEY_PREVIOUS", ""),
		SetupTimeout:      5 * time.Minute,
	}
	var err error
	if c.PortStart, err = envInt("AGENT_PORT_RANGE_START", 9000); err != nil {
		return c, err
	}
	if c.PortEnd, err = envInt("AGENT_PORT_RANGE_END", 9500); err != nil {
		return c, err
	}
	if c.TokenTTL, err = envDuration("WARDER_TOKEN_TTL", 24*time.Hour); err != nil {
		return c, err
	}
	if c.RefreshTTL, err = envDuration("WARDER_REFRESH_TTL", 7*24*time.Hour); err != nil {
		return c, err
	}
	if c.StopTimeout, err = envDuration("WARDER_STOP_TIMEOUT", 10*time.Second); err != nil {
		return c, err
	}
	if c.StartTimeout, err = envDuration("WARDER_START_TIMEOUT", 2*time.Minute); err != nil {
		return c, err
	}
	if c.AutoPauseMinutes, err = envFloat("WARDER_AUTO_PAUSE_MINUTES", 0); err != nil {
		return c, err
	}
	if c.AutoPauseMinutes < 0 || c.AutoPauseMinutes > 60*24*365 {
		return c, fmt.Errorf("WARDER_AUTO_PAUSE_MINUTES must be between 0 (never) and 525600")
	}
	if c.IdleInterval, err = envDuration("WARDER_IDLE_INTERVAL", 30*time.Second); err != nil {
		return c, err
	}
	if c.StatsHistory, err = envDuration("WARDER_STATS_HISTORY", 10*time.Minute); err != nil {
		return c, err
	}
	switch follow := env("WARDER_STATS_FOLLOW", "read"); follow {
	case "read", "all":
		c.StatsFollowAll = follow == "all"
	default:
		return c, fmt.Errorf("WARDER_STATS_FOLLOW %q must be read (follow an agent's stats from its first read) or all (every running agent)", follow)
	}
	if c.Quota, err = quotaFromEnv(); err != nil {
		return c, err
	}
	c.DefaultNetwork = env("WARDER_DEFAULT_NETWORK", warder.NetworkEgress)
	if c.AllowEgress, err = strconv.ParseBool(env("WARDER_ALLOW_EGRESS", "true")); err != nil {
		return c, fmt.Errorf("WARDER_ALLOW_EGRESS must be true or false")
	}
	if c.AllowRoot, err = strconv.ParseBool(env("WARDER_ALLOW_ROOT_AGENTS", "false")); err != nil {
		return c, fmt.Errorf("WARDER_ALLOW_ROOT_AGENTS must be true or false")
	}
	c.Runtime = env("WARDER_RUNTIME", "docker")
	c.Kubeconfig = env("KUBECONFIG", "")
	c.K8sNamespace = env("WARDER_K8S_NAMESPACE", "warder-agents")
	c.K8sStorageClass = env("WARDER_K8S_STORAGE_CLASS", "")
	c.K8sControlNamespace = env("WARDER_K8S_CONTROL_NAMESPACE", "")
	c.Registration = env("WARDER_REGISTRATION", "open")
	if c.MaxStreamsPerUser, err = envInt("WARDER_MAX_STREAMS_PER_USER", 32); err != nil {
		return c, err
	}
	if c.MaxConnections, err = envInt("WARDER_MAX_CONNECTIONS", 0); err != nil {
		return c, err
	}
	if c.MaxConnectionsPerAddress, err = envInt("WARDER_MAX_CONNECTIONS_PER_ADDRESS", 0); err != nil {
		return c, err
	}
	if c.WorkspaceBytes, err = envBytes("WARDER_MAX_WORKSPACE_BYTES", 1<<30); err != nil {
		return c, err
	}
	if c.WorkspaceBytesPerUser, err = envBytes("WARDER_MAX_WORKSPACE_BYTES_PER_USER", 10<<30); err != nil {
		return c, err
	}
	c.WorkspaceDir = env("WARDER_WORKSPACE_DIR", "")
	if c.FilesHelperIdle, err = envDuration("WARDER_FILES_HELPER_IDLE", docker.DefaultFilesHelperIdle); err != nil {
		return c, err
	}
	if c.FilesHelperIdle < time.Second {
		return c, fmt.Errorf("WARDER_FILES_HELPER_IDLE must be at least 1s")
	}
	if c.MaxUploadBytes, err = envBytes("WARDER_MAX_UPLOAD_BYTES", 256<<20); err != nil {
		return c, err
	}
	if c.MaxUploadBytes < 0 {
		return c, fmt.Errorf("WARDER_MAX_UPLOAD_BYTES must be a size above 0")
	}
	if c.MaxExecsPerAgent, err = envInt("WARDER_MAX_EXECS_PER_AGENT", 4); err != nil {
		return c, err
	}
	if c.MaxExecsPerUser, err = envInt("WARDER_MAX_EXECS_PER_USER", 8); err != nil {
		return c, err
	}
	if c.TerminalIdle, err = envDuration("WARDER_TERMINAL_IDLE_TIMEOUT", 15*time.Minute); err != nil {
		return c, err
	}
	if c.TerminalMaxSession, err = envDuration("WARDER_TERMINAL_MAX_SESSION", 4*time.Hour); err != nil {
		return c, err
	}
	if c.Snapshots, err = loadSnapshotSettings(); err != nil {
		return c, err
	}
	if c.MaxFileOpsPerUser, err = envInt("WARDER_MAX_FILE_OPS_PER_USER", 4); err != nil {
		return c, err
	}
	if c.SQLiteSync, err = sqlstore.ParseSynchronous(env("WARDER_SQLITE_SYNCHRONOUS", "normal")); err != nil {
		return c, fmt.Errorf("WARDER_SQLITE_SYNCHRONOUS: %w", err)
	}
	if c.WarmPool, err = warder.ParsePoolShapes(env("WARDER_WARM_POOL", ""), maxWarmPool); err != nil {
		return c, err
	}
	if c.Isolations, err = warder.ParseIsolationPolicy(env("WARDER_AGENT_ISOLATION", ""), env("WARDER_AGENT_ISOLATION_ALLOWED", "")); err != nil {
		return c, err
	}
	c.GVisorRuntime, c.GVisorRuntimeClass = env("WARDER_DOCKER_GVISOR_RUNTIME", ""), env("WARDER_K8S_GVISOR_RUNTIME_CLASS", "")
	c.loadEgress() // egress.go

	if err := c.loadLLM(); err != nil { // llmconfig.go
		return c, err
	}
	if c.CORSOrigins, err = api.ParseCORSOrigins(env("WARDER_CORS_ORIGINS", "")); err != nil {
		return c, fmt.Errorf("WARDER_CORS_ORIGINS: %w", err)
	}
	c.AllowedImages = envList("WARDER_ALLOWED_IMAGES")
	c.AdminAllowedImages = envList("WARDER_ADMIN_ALLOWED_IMAGES")
	if len(c.AdminAllowedImages) == 0 {
		c.AdminAllowedImages = c.AllowedImages
	}
	fs := flag.NewFlagSet("warder", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (WARDER_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory for the embedded SQLite database (WARDER_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "database URL; empty means embedded SQLite (WARDER_DATABASE_URL)")
	fs.StringVar(&c.Network, "network", c.Network, "Docker network for agents (AGENT_NETWORK)")
	fs.StringVar(&c.Image, "image", c.Image, "default agent image (AGENT_IMAGE)")
	fs.IntVar(&c.PortStart, "port-start", c.PortStart, "first host port for agents (AGENT_PORT_RANGE_START)")
	fs.IntVar(&c.PortEnd, "port-end", c.PortEnd, "last host port for agents (AGENT_PORT_RANGE_END)")
	fs.StringVar(&c.BindAddress, "bind-address", c.BindAddress, "host address agent ports are published on (AGENT_BIND_ADDRESS)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of a login token (WARDER_TOKEN_TTL)")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", c.RefreshTTL, "lifetime of a refresh token, at least the token's (WARDER_REFRESH_TTL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json (WARDER_LOG_FORMAT)")
	fs.StringVar(&c.Runtime, "runtime", c.Runtime, "backend agents run on: docker or kubernetes (WARDER_RUNTIME)")
	fs.StringVar(&c.Registration, "registration", c.Registration, "open, or closed: only admins create users (WARDER_REGISTRATION)")
	fs.Func("cors-origins", "origins whose browser pages may call the API, comma-separated, or * (WARDER_CORS_ORIGINS)", func(v string) (err error) {
		c.CORSOrigins, err = api.ParseCORSOrigins(v)
		return err
	})
	fs.IntVar(&c.MaxStreamsPerUser, "max-streams-per-user", c.MaxStreamsPerUser, "open streams one user may hold (WARDER_MAX_STREAMS_PER_USER)")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "open API connections, in all; 0: 4096, or less if the open-file limit is low (WARDER_MAX_CONNECTIONS)")
	fs.IntVar(&c.MaxConnectionsPerAddress, "max-connections-per-address", c.MaxConnectionsPerAddress, "open API connections from one client address; 0: 256 (WARDER_MAX_CONNECTIONS_PER_ADDRESS)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch c.WorkspaceDir {
	case "":
		c.WorkspaceDir = filepath.Join(c.DataDir, "workspaces")
	case "off":
		c.WorkspaceDir = ""
	}
	return c, c.Validate()
}

// Validate checks every setting, and fills in the runtime when none is
// named.
func (c *Config) Validate() error {
	if c.Runtime == "" {
		c.Runtime = "docker"
	}
	if _, ok := runtimes[c.Runtime]; !ok {
		return fmt.Errorf("WARDER_RUNTIME %q must be docker or kubernetes", c.Runtime)
	}
	if c.PortStart < 1 || c.PortEnd > 65535 || c.PortStart > c.PortEnd {
		return fmt.Errorf("agent port range %d-%d is not a valid range within 1-65535", c.PortStart, c.PortEnd)
	}
	if net.ParseIP(c.BindAddress) == nil {
		return fmt.Errorf("AGENT_BIND_ADDRESS %q is not an IP address", c.BindAddress)
	}
	if c.TokenTTL < time.Minute {
		return fmt.Errorf("WARDER_TOKEN_TTL %s is shorter than a minute", c.TokenTTL)
	}
	if c.RefreshTTL != 0 && c.RefreshTTL < c.TokenTTL { // 0: the service's default
		return fmt.Errorf("WARDER_REFRESH_TTL %s is shorter than WARDER_TOKEN_TTL %s: a refresh token must outlive the token it renews", c.RefreshTTL, c.TokenTTL)
	}
	if c.IdleInterval < 100*time.Millisecond || c.StartTimeout < time.Second {
		return fmt.Errorf("WARDER_IDLE_INTERVAL must be at least 100ms and WARDER_START_TIMEOUT at least 1s")
	}
	if c.DefaultNetwork != warder.NetworkEgress && c.DefaultNetwork != warder.NetworkInternal {
		return fmt.Errorf("WARDER_DEFAULT_NETWORK must be egress or internal, not %q", c.DefaultNetwork)
	}
	if !c.AllowEgress && c.DefaultNetwork == warder.NetworkEgress {
		return fmt.Errorf("WARDER_ALLOW_EGRESS=false needs WARDER_DEFAULT_NETWORK=internal")
	}
	if err := c.validateEgress(); err != nil { // egress.go
		return err
	}
	if err := c.validateLLM(); err != nil { // llmconfig.go
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("WARDER_LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	if c.Registration != "" && c.Registration != "open" && c.Registration != "closed" {
		return fmt.Errorf("WARDER_REGISTRATION must be open or closed, not %q", c.Registration)
	}
	if c.MaxFileOpsPerUser < 0 {
		return fmt.Errorf("WARDER_MAX_FILE_OPS_PER_USER must not be negative (0 means the default)")
	}
	if c.TerminalIdle < 0 || c.TerminalMaxSession < 0 {
		return fmt.Errorf("WARDER_TERMINAL_IDLE_TIMEOUT and WARDER_TERMINAL_MAX_SESSION must not be negative (0 means the default)")
	}
	if c.MaxExecsPerAgent < 0 || c.MaxExecsPerUser < 0 {
		return fmt.Errorf("WARDER_MAX_EXECS_PER_AGENT and WARDER_MAX_EXECS_PER_USER must not be negative (0 means the default)")
	}
	if len(c.WarmPool) > 0 && c.Runtime != "docker" {
		return fmt.Errorf("WARDER_WARM_POOL needs WARDER_RUNTIME=docker: the warm pool is the Docker runtime's")
	}
	if c.MaxStreamsPerUser < 0 {
		return fmt.Errorf("WARDER_MAX_STREAMS_PER_USER must not be negative (0 means the default, 32)")
	}
	if err := c.validateConnections(openFileLimit()); err != nil {
		return err
	}
	if c.StatsHistory != 0 && (c.StatsHistory < 10*time.Second || c.StatsHistory > 24*time.Hour) {
		return fmt.Errorf("WARDER_STATS_HISTORY %s must be between 10s and 24h", c.StatsHistory)
	}
	for name, v := range map[string]string{"WARDER_K8S_NAMESPACE": c.K8sNamespace, "WARDER_K8S_CONTROL_NAMESPACE": c.K8sControlNamespace} {
		if v != "" && !kubernetes.ValidNamespace(v) {
			return fmt.Errorf("%s %q is not a namespace name (lower-case letters, digits and '-', at most 63)", name, v)
		}
	}
	return nil
}

// sqlitePath is where the embedded database lives.
func (c *Config) sqlitePath() string { return filepath.Join(c.DataDir, "warder.db") }

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// quotaFromEnv reads the default per-user limits.
func quotaFromEnv() (warder.Limits, error) {
	agents, err := envInt("WARDER_QUOTA_AGENTS", 100)
	if err != nil {
		return warder.Limits{}, err
	}
	running, err := envInt("WARDER_QUOTA_RUNNING_AGENTS", 50)
	if err != nil {
		return warder.Limits{}, err
	}
	mem, err := envMemory("WARDER_QUOTA_MEMORY", "32g")
	if err != nil {
		return warder.Limits{}, err
	}
	agentMem, err := envMemory("WARDER_QUOTA_AGENT_MEMORY", "4g")
	if err != nil {
		return warder.Limits{}, err
	}
	cpus, err := envFloat("WARDER_QUOTA_CPUS", 32)
	if err != nil {
		return warder.Limits{}, err
	}
	agentCPUs, err := envFloat("WARDER_QUOTA_AGENT_CPUS", 4)
	if err != nil {
		return warder.Limits{}, err
	}
	return warder.Limits{Agents: &agents, RunningAgents: &running, MemoryBytes: &mem, CPUs: &cpus,
		AgentMemoryBytes: &agentMem, AgentCPUs: &agentCPUs}, nil
}

// envMemory reads a size like 32g; "0" is unlimited.
func envMemory(key, def string) (int64, error) {
	v := env(key, def)
	if v == "0" {
		return 0, nil
	}
	n, err := warder.ParseMemory(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a size like 32g", key, v)
	}
	return n, nil
}

func envFloat(key string, def float64) (float64, error) {
	v := env(key, "")
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%s=%q is not a non-negative number", key, v)
	}
	return f, nil
}

// envList reads a comma-separated list, dropping empty entries.
func envList(key string) []string {
	var out []string
	for _, v := range strings.Split(env(key, ""), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func envInt(key string, def int) (int, error) {
	v := env(key, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a whole number", key, v)
	}
	return n, nil
}

// envBytes reads a size in bytes, with an optional binary unit (k, m,
// g, t: 512m, 1g); 0 means no bound and is returned as -1.
func envBytes(key string, def int64) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(env(key, "")))
	if v == "" {
		return def, nil
	}
	mult := int64(1)
	if i := strings.IndexAny(v, "kmgt"); i > 0 {
		switch v[i:] {
		case "k", "kb", "kib":
			mult = 1 << 10
		case "m", "mb", "mib":
			mult = 1 << 20
		case "g", "gb", "gib":
			mult = 1 << 30
		case "t", "tb", "tib":
			mult = 1 << 40
		default:
			return 0, fmt.Errorf("%s=%q is not a size like 1g, 512m or 1048576", key, v)
		}
		v = v[:i]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%s=%q is not a size like 1g, 512m or 1048576", key, v)
	}
	if n == 0 {
		return -1, nil
	}
	return n * mult, nil
}

func envDuration(key string, def time.Duration) (time.Duration, error) {
	v := env(key, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a duration like 24h or 30m", key, v)
	}
	return d, nil
}

// maxWarmPool bounds WARDER_WARM_POOL's sizes together: each pooled
// container holds a host port and its memory while it waits.
const maxWarmPool = 64
