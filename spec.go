package warder

import (
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Defaults for a container_config that leaves a field out.
const (
	DefaultMemoryLimit   = "512m"
	DefaultCPULimit      = 0.5
	DefaultContainerPort = 8000
	// MinMemoryBytes is the smallest limit Docker accepts (6 MiB).
	MinMemoryBytes = 6 << 20
	// MaxMemoryBytes caps a single agent; larger is certainly a typo.
	MaxMemoryBytes = 1 << 40
	// MaxCPULimit caps a single agent's CPUs.
	MaxCPULimit = 256
	// PidsLimit caps the processes and threads of one agent container, so
	// a fork bomb stays inside it.
	PidsLimit = 256
)

var memoryRe = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$`)

var memoryUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseMemory turns a Docker-style memory string ("512m", "1g", "256MiB",
// "1048576") into bytes. Units are binary, as Docker reads them.
func ParseMemory(s string) (int64, error) {
	m := memoryRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, Errorf(ErrInvalid, "memory_limit %q is not a size like 512m, 1g or 256MiB", s)
	}
	unit, ok := memoryUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, Errorf(ErrInvalid, "memory_limit %q has an unknown unit %q (use b, k, m, g or t)", s, m[2])
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil || math.IsInf(n*unit, 0) {
		return 0, Errorf(ErrInvalid, "memory_limit %q is not a number", s)
	}
	b := n * unit
	if b < MinMemoryBytes {
		return 0, Errorf(ErrInvalid, "memory_limit %q is below the minimum of 6m", s)
	}
	if b > MaxMemoryBytes {
		return 0, Errorf(ErrInvalid, "memory_limit %q is above the maximum of 1t", s)
	}
	return int64(b), nil
}

// validEnv checks one map of env vars; field names it in messages, which
// never include a value.
func validEnv(field string, env map[string]string) error {
	if len(env) > 200 {
		return Errorf(ErrInvalid, "container_config.%s has %d entries; at most 200 are allowed", field, len(env))
	}
	for k, v := range env {
		if !envNameRe.MatchString(k) || len(k) > 128 {
			return Errorf(ErrInvalid, "container_config.%s: %q is not a valid variable name (letters, digits and _, not starting with a digit)", field, k)
		}
		if reservedEnv[k] {
			return Errorf(ErrInvalid, "container_config.%s: %s is set by Warder and cannot be overridden", field, k)
		}
		if strings.ContainsRune(v, 0) || len(v) > 32<<10 {
			return Errorf(ErrInvalid, "container_config.%s: the value of %s contains a NUL byte or is over 32 KiB", field, k)
		}
	}
	return nil
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnv are set by Warder on every container and may not be overridden.
// WARDER_AGENT_POOLED would make the default agent wait for a warm
// pool's claim on stdin (WarmPool), which a start never sends.
var reservedEnv = map[string]bool{"AGENT_ID": true, "AGENT_NAME": true, "AGENT_TYPE": true, "PORT": true, EnvAgentConfig: true,
	"WARDER_AGENT_POOLED": true}

// imageRe is a loose check of a Docker image reference: it catches spaces,
// empty strings and uppercase repositories, and leaves the rest to Docker.
var imageRe = regexp.MustCompile(`^[a-z0-9]+(?:[._\-/:@][a-zA-Z0-9]+)*(?:[._\-][a-zA-Z0-9]+)*$`)

// NormalizeConfig fills defaults in c and validates it. defaultImage is
// the operator's AGENT_IMAGE. (A function, not a method: ContainerConfig
// is wire.ContainerConfig, whose methods are package wire's.)
func NormalizeConfig(c *ContainerConfig, defaultImage string) error {
	if c.Image == "" {
		c.Image = defaultImage
	}
	if len(c.Image) > 255 || !imageRe.MatchString(c.Image) {
		return Errorf(ErrInvalid, "container_config.image %q is not a valid image reference", c.Image)
	}
	if c.MemoryLimit == "" {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if _, err := ParseMemory(c.MemoryLimit); err != nil {
		return err
	}
	if c.CPULimit == 0 {
		c.CPULimit = DefaultCPULimit
	}
	if c.CPULimit < 0.01 || c.CPULimit > MaxCPULimit || math.IsNaN(c.CPULimit) {
		return Errorf(ErrInvalid, "container_config.cpu_limit %v must be between 0.01 and %d", c.CPULimit, MaxCPULimit)
	}
	if c.Port == 0 {
		c.Port = DefaultContainerPort
	}
	if c.Port < 1 || c.Port > 65535 {
		return Errorf(ErrInvalid, "container_config.port %d must be between 1 and 65535", c.Port)
	}
	if _, _, err := ParseRestartPolicy(c.RestartPolicy); err != nil {
		return err
	}
	if c.RestartPolicy == "" {
		c.RestartPolicy = DefaultRestartPolicy
	}
	if c.Network != "" && c.Network != NetworkEgress && c.Network != NetworkInternal {
		return Errorf(ErrInvalid, "container_config.network %q must be %q or %q", c.Network, NetworkEgress, NetworkInternal)
	}
	if c.Isolation != "" {
		if _, err := ParseIsolation(c.Isolation); err != nil {
			return Errorf(ErrInvalid, "container_config.%v", err) // which are available here: service/isolation.go
		}
	}
	if c.AutoStopMinutes < 0 || c.AutoStopMinutes > 60*24*365 || math.IsNaN(c.AutoStopMinutes) {
		return Errorf(ErrInvalid, "container_config.auto_stop_minutes %v must be between 0 (never) and 525600", c.AutoStopMinutes)
	}
	if (c.AutoPauseMinutes < 0 && c.AutoPauseMinutes != -1) || c.AutoPauseMinutes > 60*24*365 || math.IsNaN(c.AutoPauseMinutes) {
		return Errorf(ErrInvalid, "container_config.auto_pause_minutes %v must be between 0 (the operator's default) and 525600, or -1 (never)", c.AutoPauseMinutes)
	}
	if err := validEnv("env_vars", c.EnvVars); err != nil {
		return err
	}
	if err := validEnv("secret_env", c.SecretEnv); err != nil {
		return err
	}
	for k := range c.SecretEnv {
		if _, both := c.EnvVars[k]; both {
			return Errorf(ErrInvalid, "container_config: %s is in both env_vars and secret_env", k)
		}
	}
	if c.EnvVars == nil {
		c.EnvVars = map[string]string{}
	}
	return nil
}

// DefaultRestartPolicy is "no": Warder reports a crash as it is rather
// than hiding it behind restarts the user did not ask for.
const DefaultRestartPolicy = "no"

// ParseRestartPolicy splits "on-failure:3" into the restart mode and the
// maximum retry count.
func ParseRestartPolicy(s string) (name string, maxRetries int, err error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch {
	case name == "" && !hasCount, name == "no" && !hasCount:
		return "no", 0, nil
	case name == "unless-stopped" && !hasCount:
		return name, 0, nil
	case name == "on-failure" && !hasCount:
		return name, 0, nil
	case name == "on-failure":
		n, err := strconv.Atoi(count)
		if err == nil && n >= 1 && n <= 100 {
			return name, n, nil
		}
	}
	return "", 0, Errorf(ErrInvalid, "container_config.restart_policy %q must be no, on-failure, on-failure:N (N from 1 to 100) or unless-stopped", s)
}

// SpecSettings are the operator's settings that shape every container.
type SpecSettings struct {
	// Network is AGENT_NETWORK. It also scopes a deployment: containers
	// are labelled LabelManaged=<Network>, and Warder lists, follows and
	// cleans up only those, so two deployments on one engine never touch
	// each other's containers.
	Network string
	// AllowRoot lets images without a non-root USER run as root
	// (WARDER_ALLOW_ROOT_AGENTS); see WorkloadSpec.AllowRoot.
	AllowRoot bool
	// Workspaces gives every agent a workspace (the runtime has
	// Parts().Workspaces) of at most WorkspaceBytes (0: no bound).
	Workspaces     bool
	WorkspaceBytes int64
	// EgressProxy, if set, returns the env vars that send an agent whose
	// container_config.egress is a list through the egress proxy
	// (HTTP_PROXY and the like, with the agent's own credentials), or an
	// error while the proxy cannot be reached. Unset, such an agent gets
	// none and reaches nothing outside.
	EgressProxy func(agentID string) (map[string]string, error)
	// LLMGateway, if set, returns the env vars that point an agent at the
	// LLM gateway (LLMGatewayEnv: the gateway's URL and the agent's own
	// token), or an error while the gateway cannot be reached. An agent
	// whose own env_vars or secret_env name either variable brought its
	// own provider: it gets neither, so its token goes nowhere else.
	LLMGateway func(agentID string) (map[string]string, error)
}

// LLMGatewayEnv are the variables SpecSettings.LLMGateway sets: the
// names OpenAI's SDKs (and the default agent) read.
var LLMGatewayEnv = []string{"OPENAI_BASE_URL", "OPENAI_API_KEY"}

// ownsLLMEnv reports whether the agent's own settings name one of
// LLMGatewayEnv.
func ownsLLMEnv(cc ContainerConfig) bool {
	for _, k := range LLMGatewayEnv {
		if _, ok := cc.EnvVars[k]; ok || slices.Contains(cc.SecretEnvNames, k) {
			return true
		}
		if _, ok := cc.SecretEnv[k]; ok {
			return true
		}
	}
	return false
}

// ContainerName is the Docker name of an agent's container, derived from
// its id so it never changes when the agent is renamed.
func ContainerName(agentID string) string { return "warder-agent-" + agentID }

// SpecFor derives the container spec of agent a, which must hold a
// normalized ContainerConfig.
func SpecFor(a *Agent, s SpecSettings) (WorkloadSpec, error) {
	cc := a.ContainerConfig
	mem, err := ParseMemory(cc.MemoryLimit)
	if err != nil {
		return WorkloadSpec{}, err
	}
	port := cc.Port
	if port == 0 {
		port = DefaultContainerPort
	}
	env := make(map[string]string, len(cc.EnvVars)+4)
	for k, v := range cc.EnvVars {
		env[k] = v
	}
	env["AGENT_ID"] = a.ID
	env["AGENT_NAME"] = a.Name
	env["AGENT_TYPE"] = a.Type
	env["PORT"] = strconv.Itoa(port)
	if env[EnvAgentConfig], err = configEnv(agentConfig(a.Config)); err != nil {
		return WorkloadSpec{}, err
	}
	policy, retries, err := ParseRestartPolicy(cc.RestartPolicy)
	if err != nil {
		return WorkloadSpec{}, err
	}
	if cc.Egress.Listed() && s.EgressProxy != nil {
		proxyEnv, err := s.EgressProxy(a.ID)
		if err != nil {
			return WorkloadSpec{}, err
		}
		maps.Copy(env, proxyEnv)
	}
	if s.LLMGateway != nil && !ownsLLMEnv(cc) {
		llmEnv, err := s.LLMGateway(a.ID)
		if err != nil {
			return WorkloadSpec{}, err
		}
		maps.Copy(env, llmEnv)
	}
	internal := cc.Network == NetworkInternal
	var ws *WorkspaceSpec
	if s.Workspaces {
		ws = &WorkspaceSpec{Name: WorkspaceName(a.ID), MountPath: WorkspaceMountPath, SizeBytes: s.WorkspaceBytes,
			Labels: map[string]string{LabelWorkspace: s.Network, LabelAgentID: a.ID, LabelUserID: a.UserID}}
	}
	return WorkloadSpec{
		Name:    ContainerName(a.ID),
		AgentID: a.ID,
		Image:   cc.Image,
		Env:     env,
		Labels: map[string]string{
			LabelManaged:   s.Network,
			LabelAgentID:   a.ID,
			LabelAgentName: a.Name,
			LabelUserID:    a.UserID,
		},
		MemoryBytes: mem,
		MilliCPUs:   int64(math.Round(cc.CPULimit * 1000)),
		PidsLimit:   PidsLimit,
		Port:        port,
		Publish:     !internal,
		Internal:    internal,
		Restart:     RestartPolicy{Mode: RestartMode(policy), MaxRetries: retries},
		AllowRoot:   s.AllowRoot,
		Workspace:   ws,
		Isolation:   Isolation(cc.Isolation),
	}, nil
}

// ControlConfigKey is the key of an agent's config that belongs to the
// control plane: a sandbox's metadata and expiration, kept by the
// OpenSandbox API (package opensandbox). It is stored and shown with the
// config but does not reach the container (AGENT_CONFIG), so it may
// change while the agent runs.
const ControlConfigKey = "opensandbox"

// agentConfig is config as the agent sees it: without ControlConfigKey.
func agentConfig(config map[string]any) map[string]any {
	if _, ok := config[ControlConfigKey]; !ok {
		return config
	}
	out := make(map[string]any, len(config))
	for k, v := range config {
		if k != ControlConfigKey {
			out[k] = v
		}
	}
	return out
}
