package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// The variables that choose the model. LLM_API_KEY is a secret: it is
// sent to the model API and nowhere else, never logged and never echoed.
const (
	envBaseURL = "LLM_BASE_URL" // e.g. https://api.openai.com/v1; empty: the offline model
	envAPIKey  = "LLM_API_KEY"
	envTimeout = "LLM_TIMEOUT" // the longest the model API may stay silent
	envConfig  = "AGENT_CONFIG"
	// Warder's LLM gateway, when its operator configured one: its URL and
	// this agent's own gateway token, the names OpenAI's SDKs read.
	envGatewayURL = "OPENAI_BASE_URL"
	envGatewayKey = "OPENAI_API_KEY"
)

// defaultTimeout is LLM_TIMEOUT's default: long enough for a slow model's
// first token, short enough that nobody waits on a dead one for long.
const defaultTimeout = 60 * time.Second

// agentConfig is what the default agent reads of the agent's config,
// which Warder passes as AGENT_CONFIG JSON. Unknown keys are left alone:
// the config may carry settings for other images too.
type agentConfig struct {
	Model        string   // config.model
	SystemPrompt string   // config.system_prompt
	Temperature  *float64 // config.temperature, passed on when set
	MaxTokens    *int     // config.max_tokens, passed on when set
}

// parseConfig reads AGENT_CONFIG; unset or empty means {}. A field of the
// wrong type is an error naming it, so a typo stops start-up rather than
// being silently ignored.
func parseConfig(s string) (agentConfig, error) {
	var c agentConfig
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return c, fmt.Errorf("%s is not a JSON object: %v", envConfig, err)
	}
	var ok bool
	if v, set := raw["model"]; set && v != nil {
		if c.Model, ok = v.(string); !ok {
			return c, fmt.Errorf("config.model must be a string, not %v", v)
		}
	}
	if v, set := raw["system_prompt"]; set && v != nil {
		if c.SystemPrompt, ok = v.(string); !ok {
			return c, fmt.Errorf("config.system_prompt must be a string, not %v", v)
		}
	}
	if v, set := raw["temperature"]; set && v != nil {
		t, ok := v.(float64)
		if !ok || t < 0 || t > 2 {
			return c, fmt.Errorf("config.temperature must be a number from 0 to 2, not %v", v)
		}
		c.Temperature = &t
	}
	if v, set := raw["max_tokens"]; set && v != nil {
		n, ok := v.(float64)
		if !ok || n < 1 || n != math.Trunc(n) || n > 1<<30 {
			return c, fmt.Errorf("config.max_tokens must be a whole number above 0, not %v", v)
		}
		m := int(n)
		c.MaxTokens = &m
	}
	return c, nil
}

// llmSettings is where the model API is; zero base means offline.
type llmSettings struct {
	base    *url.URL
	key     string
	timeout time.Duration
}

// parseLLM reads the LLM_* variables. With LLM_BASE_URL set, config.model
// must be too: guessing a model would bill someone for the wrong one.
// Without it, an agent with a config.model uses OPENAI_BASE_URL and
// OPENAI_API_KEY when set (Warder's LLM gateway and the agent's token);
// LLM_API_KEY never goes to the gateway, nor the token elsewhere.
func parseLLM(env map[string]string, cfg agentConfig) (llmSettings, error) {
	s := llmSettings{key: env[envAPIKey], timeout: defaultTimeout}
	if v := env[envTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Hour {
			return s, fmt.Errorf("%s=%q must be a duration from 1ms to 1h, such as 30s", envTimeout, v)
		}
		s.timeout = d
	}
	raw := strings.TrimSpace(env[envBaseURL])
	if raw == "" {
		gw := strings.TrimSpace(env[envGatewayURL])
		if gw == "" || cfg.Model == "" {
			return s, nil
		}
		raw, s.key = gw, env[envGatewayKey]
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		// The value is not echoed: a URL may carry credentials.
		return s, fmt.Errorf("%s must be an http:// or https:// URL such as https://api.openai.com/v1", envBaseURL)
	}
	if cfg.Model == "" {
		return s, fmt.Errorf("%s is set but config.model is not: give the agent a config such as {\"model\": \"gpt-4o-mini\"}", envBaseURL)
	}
	s.base = u
	return s, nil
}

// where names the model API for logs and messages: scheme, host and path,
// never user info.
func (s llmSettings) where() string {
	if s.base == nil {
		return "offline"
	}
	u := *s.base
	u.User = nil
	return u.String()
}
