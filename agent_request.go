package warder

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AgentCreate is the body of POST /api/agents and PUT /api/agents/{id}, as
// the seed document writes it.
type AgentCreate struct {
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Type            string          `json:"type"`
	UserID          string          `json:"user_id"`
	Config          map[string]any  `json:"config"`
	ContainerConfig ContainerConfig `json:"container_config"`
	// KnowledgeBase is kept as sent; see Agent.KnowledgeBase.
	KnowledgeBase map[string]any `json:"knowledge_base"`
}

// DefaultAgentType is the type of an agent created without one.
const DefaultAgentType = "chat"

// AgentTypes are the types an agent may be given, the original Warder's:
// Warder runs every type alike; the type is for the agent's image and its
// clients to read.
var AgentTypes = []string{"rag", "chat", "function", "custom"}

// validType checks a type being given to an agent. An agent stored with
// another type (made before types were checked) keeps it: only a new
// value is checked, so sending an agent back as read is never refused.
func validType(t, current string) error {
	if t == current || slices.Contains(AgentTypes, t) {
		return nil
	}
	if err := validLabel("type", t, 50); err != nil {
		return err // says which character, or that it is too long
	}
	return Errorf(ErrInvalid, "type must be one of %s, not %q", strings.Join(AgentTypes, ", "), t)
}

// Validate checks the request and fills defaults; defaultImage is AGENT_IMAGE.
func (r *AgentCreate) Validate(defaultImage string) error {
	var err error
	if r.Name, err = validName(r.Name); err != nil {
		return err
	}
	if err := validText("description", r.Description, 2000); err != nil {
		return err
	}
	if r.Type == "" {
		r.Type = DefaultAgentType
	}
	if err := validType(r.Type, ""); err != nil {
		return err
	}
	if r.Config == nil {
		r.Config = map[string]any{}
	}
	if _, err := configEnv(r.Config); err != nil {
		return err
	}
	if err := validKnowledgeBase(r.KnowledgeBase); err != nil {
		return err
	}
	return r.ContainerConfig.Normalize(defaultImage)
}

// AgentUpdate is the body of PATCH /api/agents/{id}: nil fields stay as they are.
type AgentUpdate struct {
	Name            *string                `json:"name"`
	Description     *string                `json:"description"`
	Type            *string                `json:"type"`
	Config          *map[string]any        `json:"config"`
	ContainerConfig *ContainerConfigUpdate `json:"container_config"`
	// KnowledgeBase replaces the agent's; {} clears it (null leaves it).
	KnowledgeBase *map[string]any `json:"knowledge_base"`
}

// AgentReplace is the body of PUT /api/agents/{id}. As in the original
// Warder, whose clients send only what they change, a field left out is
// kept: a PUT never wipes what its caller did not send. In
// container_config each field is kept or replaced on its own, and
// secret_env, when given, replaces all the secrets. UserID may be sent
// (a GET response carries it) but an agent keeps its owner.
type AgentReplace struct {
	AgentUpdate
	UserID *string `json:"user_id"`
}

// Apply merges r into a. Unlike PATCH, whose config replaces the whole
// map, a PUT's config is merged key by key, as the original Warder's
// update did (dict.update): keys it does not name are kept, and a key set
// to null is kept as null.
func (r *AgentReplace) Apply(a *Agent, defaultImage string) error {
	u := r.AgentUpdate
	if u.Config != nil && *u.Config != nil {
		merged := maps.Clone(a.Config)
		if merged == nil {
			merged = map[string]any{}
		}
		maps.Copy(merged, *u.Config)
		u.Config = &merged
	}
	return u.Apply(a, defaultImage)
}

// ContainerConfigUpdate changes only the container settings it sets.
type ContainerConfigUpdate struct {
	Image       *string            `json:"image"`
	MemoryLimit *string            `json:"memory_limit"`
	CPULimit    *float64           `json:"cpu_limit"`
	EnvVars     *map[string]string `json:"env_vars"`
	Port        *int               `json:"port"`
	// RestartPolicy and AutoStopMinutes: see ContainerConfig.
	RestartPolicy   *string  `json:"restart_policy"`
	AutoStopMinutes *float64 `json:"auto_stop_minutes"`
	// Network switches between "egress" and "internal".
	Network *string `json:"network"`
	// AutoStart is kept with the agent; it acts only at create.
	AutoStart *bool `json:"auto_start"`
	// SecretEnv, when given, replaces all of the agent's secrets.
	SecretEnv *map[string]string `json:"secret_env"`
	// SecretEnvNames is accepted so a GET response can be sent back; it is
	// derived from the secrets and ignored here.
	SecretEnvNames []string `json:"secret_env_names"`
}

// Apply merges u into a copy of c.
func (u *ContainerConfigUpdate) Apply(c ContainerConfig) ContainerConfig {
	if u.Image != nil {
		c.Image = *u.Image
	}
	if u.MemoryLimit != nil {
		c.MemoryLimit = *u.MemoryLimit
	}
	if u.CPULimit != nil {
		c.CPULimit = *u.CPULimit
	}
	if u.EnvVars != nil {
		c.EnvVars = *u.EnvVars
	}
	if u.Port != nil {
		c.Port = *u.Port
	}
	if u.RestartPolicy != nil {
		c.RestartPolicy = *u.RestartPolicy
	}
	if u.AutoStopMinutes != nil {
		c.AutoStopMinutes = *u.AutoStopMinutes
	}
	if u.Network != nil {
		c.Network = *u.Network
	}
	if u.AutoStart != nil {
		c.AutoStart = *u.AutoStart
	}
	if u.SecretEnv != nil {
		c.SecretEnv = *u.SecretEnv
		if c.SecretEnv == nil {
			c.SecretEnv = map[string]string{} // null clears them, as {} does
		}
	}
	return c
}

// Apply merges u into a, validating every field it sets.
func (u *AgentUpdate) Apply(a *Agent, defaultImage string) error {
	if u.Name != nil {
		name, err := validName(*u.Name)
		if err != nil {
			return err
		}
		a.Name = name
	}
	if u.Description != nil {
		if err := validText("description", *u.Description, 2000); err != nil {
			return err
		}
		a.Description = *u.Description
	}
	if u.Type != nil {
		if *u.Type == "" {
			return Errorf(ErrInvalid, "type must not be empty")
		}
		if err := validType(*u.Type, a.Type); err != nil {
			return err
		}
		a.Type = *u.Type
	}
	if u.Config != nil {
		a.Config = *u.Config
		if a.Config == nil {
			a.Config = map[string]any{}
		}
		if _, err := configEnv(a.Config); err != nil {
			return err
		}
	}
	if u.KnowledgeBase != nil {
		if err := validKnowledgeBase(*u.KnowledgeBase); err != nil {
			return err
		}
		a.KnowledgeBase = *u.KnowledgeBase
		if a.KnowledgeBase == nil {
			a.KnowledgeBase = map[string]any{}
		}
	}
	if u.ContainerConfig != nil {
		cc := u.ContainerConfig.Apply(a.ContainerConfig)
		if err := cc.Normalize(defaultImage); err != nil {
			return err
		}
		a.ContainerConfig = cc
	}
	return nil
}

// maxKnowledgeBaseBytes bounds knowledge_base as stored JSON.
const maxKnowledgeBaseBytes = 16 << 10

// validKnowledgeBase checks that kb can be stored and is not too big.
func validKnowledgeBase(kb map[string]any) error {
	if kb == nil {
		return nil
	}
	b, err := json.Marshal(kb)
	if err != nil {
		return Errorf(ErrInvalid, "knowledge_base cannot be encoded as JSON: %v", err)
	}
	if len(b) > maxKnowledgeBaseBytes {
		return Errorf(ErrInvalid, "knowledge_base is %d bytes as JSON; at most %d are allowed", len(b), maxKnowledgeBaseBytes)
	}
	return nil
}

// EnvAgentConfig is the variable that hands an agent its config, as JSON
// text: the default agent reads config.model and config.system_prompt from
// it, and a custom image may read whatever it likes. Config is not secret
// (the API shows it); keys belong in env_vars or secret_env.
const EnvAgentConfig = "AGENT_CONFIG"

// maxConfigBytes keeps AGENT_CONFIG well under Linux's 128 KiB limit on one
// environment string, past which the container could not even start.
const maxConfigBytes = 64 << 10

// configEnv is config as AGENT_CONFIG holds it: compact JSON, {} for none.
func configEnv(config map[string]any) (string, error) {
	if config == nil {
		return "{}", nil
	}
	b, err := json.Marshal(config)
	if err != nil {
		return "", Errorf(ErrInvalid, "config cannot be encoded as JSON: %v", err)
	}
	if len(b) > maxConfigBytes {
		return "", Errorf(ErrInvalid, "config is %d bytes as JSON; at most %d are allowed, since it reaches the agent as %s", len(b), maxConfigBytes, EnvAgentConfig)
	}
	return string(b), nil
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Errorf(ErrInvalid, "name is required")
	}
	if err := validLabel("name", name, 100); err != nil {
		return "", err
	}
	return name, nil
}

// StorableText is s as every store keeps text: valid UTF-8 (a stray byte
// becomes U+FFFD) without NUL characters, which PostgreSQL refuses. For
// what Warder stores but did not validate: an agent's answer, an audit
// entry's fields.
func StorableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func validText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(ErrInvalid, "%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return Errorf(ErrInvalid, "%s is not valid UTF-8", field)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return Errorf(ErrInvalid, "%s contains control characters", field)
	}
	return nil
}

// validLabel is validText for a one-line label that other people and the
// command line show: an agent's name or type, an API key's name, a
// person's name. Beyond validText it refuses tabs and line breaks, and
// every invisible character that changes how the text around it looks:
// Unicode's format characters (category Cf: the bidi controls U+061C,
// U+200E, U+200F, U+202A to U+202E and U+2066 to U+2069, the zero-width
// U+200B to U+200D, U+2060 and U+FEFF, soft hyphens, tags) and the line
// and paragraph separators U+2028 and U+2029. So a name cannot pose as
// another (reversed or with an invisible character in it) or break a
// line of a table. ZWJ and ZWNJ, which some scripts and emoji sequences
// use, are refused with the rest: a label need not hold them.
func validLabel(field, s string, max int) error {
	if err := validText(field, s, max); err != nil {
		return err
	}
	if i := strings.IndexFunc(s, invisible); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Errorf(ErrInvalid, "%s contains the invisible or control character %U; names may hold neither control characters nor format characters such as bidi controls and zero-width spaces", field, r)
	}
	return nil
}

// invisible reports whether r is a control character (C0, DEL, C1), a
// format character (Cf) or a line or paragraph separator.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
