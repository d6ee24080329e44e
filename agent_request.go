package warder

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/warder/warder/wire"
)

// The bodies that create and change an agent are the API's shapes,
// defined in package wire (docs/architecture.md, "Wire types"); here
// they are types of their own, of the same fields and so the same JSON,
// that carry the server's checks: Validate and Apply.
type (
	// AgentCreate is the body of POST /api/agents.
	AgentCreate wire.AgentCreate
	// AgentUpdate is the body of PATCH /api/agents/{id}.
	AgentUpdate wire.AgentUpdate
	// AgentReplace is the body of PUT /api/agents/{id}.
	AgentReplace wire.AgentReplace
	// ContainerConfigUpdate is checked by AgentUpdate.Apply.
	ContainerConfigUpdate = wire.ContainerConfigUpdate
)

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
	return NormalizeConfig(&r.ContainerConfig, defaultImage)
}

// Apply merges r into a. Unlike PATCH, whose config replaces the whole
// map, a PUT's config is merged key by key, as the original Warder's
// update did (dict.update): keys it does not name are kept, and a key set
// to null is kept as null.
func (r *AgentReplace) Apply(a *Agent, defaultImage string) error {
	u := AgentUpdate(r.AgentUpdate)
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
		if err := NormalizeConfig(&cc, defaultImage); err != nil {
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
