package warder

import "encoding/json"

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
