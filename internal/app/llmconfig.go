package app

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// maxLLMUpstreams is how many upstreams the settings may name:
// WARDER_LLM_UPSTREAM_URL, then WARDER_LLM_UPSTREAM_2_URL to _9_URL.
const maxLLMUpstreams = 9

// LLMUpstream is one model provider of the LLM gateway.
type LLMUpstream struct {
	// Name is how logs and errors name it; the URL's host by default.
	Name string
	// URL is its OpenAI-compatible API with the version,
	// https://api.openai.com/v1.
	URL string
	// Key is sent to it, and never shown.
	Key Secret
	// Models are the models sent to it; the first upstream takes every
	// model no other names.
	Models []string
}

// Secret is a setting never printed: not by fmt, slog or JSON.
type Secret string

// String hides the secret.
func (s Secret) String() string { return redacted(s) }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return redacted(s) }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted(s)) }

// MarshalJSON hides the secret from JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted(s) + `"`), nil }

func redacted(s Secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// loadLLM reads the gateway's upstreams (WARDER_LLM_UPSTREAM_URL, _KEY
// or _KEY_FILE, _NAME, _MODELS; then the same with _2_ to _9_), where
// agents reach it (WARDER_LLM_GATEWAY_URL) and the default budgets
// (WARDER_LLM_{AGENT,USER}_TOKENS_PER_{DAY,MONTH}, into the quotas).
func (c *Config) loadLLM() error {
	for i := 1; i <= maxLLMUpstreams; i++ {
		prefix := "WARDER_LLM_UPSTREAM_"
		if i > 1 {
			prefix += strconv.Itoa(i) + "_"
		}
		key, err := envSecret(prefix + "KEY")
		if err != nil {
			return err
		}
		u := LLMUpstream{Name: env(prefix+"NAME", ""), URL: env(prefix+"URL", ""), Key: key, Models: envList(prefix + "MODELS")}
		if u.URL == "" {
			if u.Name != "" || u.Key != "" || len(u.Models) > 0 {
				return fmt.Errorf("%sURL is not set, but its other settings are", prefix)
			}
			continue
		}
		if len(c.LLMUpstreams) != i-1 {
			return fmt.Errorf("%sURL is set, but an upstream before it is not: number them from the first without gaps", prefix)
		}
		c.LLMUpstreams = append(c.LLMUpstreams, u)
	}
	c.LLMGatewayURL = env("WARDER_LLM_GATEWAY_URL", "")
	for name, dst := range map[string]**int64{
		"WARDER_LLM_AGENT_TOKENS_PER_DAY":   &c.Quota.AgentLLMTokensPerDay,
		"WARDER_LLM_AGENT_TOKENS_PER_MONTH": &c.Quota.AgentLLMTokensPerMonth,
		"WARDER_LLM_USER_TOKENS_PER_DAY":    &c.Quota.LLMTokensPerDay,
		"WARDER_LLM_USER_TOKENS_PER_MONTH":  &c.Quota.LLMTokensPerMonth,
	} {
		n, err := envInt(name, 0)
		if err != nil || n < 0 {
			return fmt.Errorf("%s must be a number of tokens, 0 for no budget", name)
		}
		v := int64(n)
		*dst = &v
	}
	return nil
}

// envSecret reads key, or the file key_FILE names (its content, less a
// trailing newline), but not both.
func envSecret(key string) (Secret, error) {
	v, file := env(key, ""), env(key+"_FILE", "")
	if file == "" {
		return Secret(v), nil
	}
	if v != "" {
		return "", fmt.Errorf("%s and %s_FILE are both set: give one", key, key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", key, err)
	}
	return Secret(strings.TrimRight(string(b), "\r\n")), nil
}

// validateLLM checks the upstreams and the gateway's URL, and names the
// upstreams left unnamed.
func (c *Config) validateLLM() error {
	names := map[string]bool{}
	for i := range c.LLMUpstreams {
		u := &c.LLMUpstreams[i]
		which := "WARDER_LLM_UPSTREAM_"
		if i > 0 {
			which += strconv.Itoa(i+1) + "_"
		}
		p, err := url.Parse(u.URL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
			return fmt.Errorf("%sURL must be an http(s) URL with the API's version and no credentials, such as https://api.openai.com/v1", which)
		}
		if strings.ContainsAny(string(u.Key), "\r\n\x00") {
			return fmt.Errorf("%sKEY holds a line break or a NUL", which)
		}
		if u.Name == "" {
			u.Name = p.Host
		}
		if names[u.Name] {
			return fmt.Errorf("%sNAME: two upstreams are named %q", which, u.Name)
		}
		names[u.Name] = true
		if i > 0 && len(u.Models) == 0 {
			return fmt.Errorf("%sMODELS must name the models sent there (the first upstream takes every other)", which)
		}
	}
	switch g := c.LLMGatewayURL; {
	case g == "" || g == "auto":
	case len(c.LLMUpstreams) == 0:
		return fmt.Errorf("WARDER_LLM_GATEWAY_URL is set, but no upstream is (WARDER_LLM_UPSTREAM_URL)")
	default:
		p, err := url.Parse(g)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" {
			return fmt.Errorf("WARDER_LLM_GATEWAY_URL %q must be auto or the http(s) URL agents reach Warder's /llm at, such as http://warder.example:8000/llm", g)
		}
	}
	// On Kubernetes the egress proxy has no automatic address: the
	// gateway's is WARDER_LLM_GATEWAY_URL, or the proxy's IP:PORT.
	if len(c.LLMUpstreams) > 0 && c.Runtime == "kubernetes" && (c.LLMGatewayURL == "" || c.LLMGatewayURL == "auto") && !egressProxyAddr(c.EgressProxy).IsValid() {
		return fmt.Errorf("WARDER_LLM_GATEWAY_URL must be set with WARDER_RUNTIME=kubernetes: the URL agents reach Warder's /llm at, unless WARDER_EGRESS_PROXY=IP:PORT, where the gateway is served too (docs/egress.md)")
	}
	return nil
}
