package warder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

func TestChatRequestValidate(t *testing.T) {
	r := warder.ChatRequest{Content: "hi"}
	if err := r.Validate(); err != nil || r.Role != "user" {
		t.Fatalf("Validate = %v, role %q", err, r.Role)
	}
	for _, bad := range []warder.ChatRequest{
		{Content: ""}, {Content: " \n\t"}, {Content: "hi", Role: "assistant"}, {Content: "hi", Role: "system"},
		{Content: strings.Repeat("x", warder.MaxChatContentBytes+1)}, {Content: "hi", ConversationID: "c1"},
	} {
		if err := bad.Validate(); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("Validate(%.40v) = %v, want invalid", bad, err)
		}
	}
}

// TestAgentConfigEnv: the agent's config reaches its container as
// AGENT_CONFIG, which env_vars cannot override, and a config too large
// for one environment string is refused when it is set.
func TestAgentConfigEnv(t *testing.T) {
	a := &warder.Agent{ID: "a1", Name: "n", HostPort: 9001, Config: map[string]any{"model": "gpt-4o-mini", "system_prompt": "Be brief."},
		ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m", Port: 8000}}
	spec, err := warder.SpecFor(a, warder.SpecSettings{})
	if err != nil || spec.Env["AGENT_CONFIG"] != `{"model":"gpt-4o-mini","system_prompt":"Be brief."}` {
		t.Fatalf("AGENT_CONFIG = %q, %v", spec.Env["AGENT_CONFIG"], err)
	}
	cc := warder.ContainerConfig{EnvVars: map[string]string{"AGENT_CONFIG": "{}"}}
	if err := cc.Normalize("img"); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("env_vars AGENT_CONFIG = %v, want invalid", err)
	}
	req := warder.AgentCreate{Name: "x", Config: map[string]any{"system_prompt": strings.Repeat("x", 70<<10)}}
	if err := req.Validate("img"); !errors.Is(err, warder.ErrInvalid) || !strings.Contains(err.Error(), "AGENT_CONFIG") {
		t.Fatalf("a 70 KiB config = %v, want invalid naming AGENT_CONFIG", err)
	}
	big := map[string]any{"x": strings.Repeat("y", 70<<10)}
	if err := (&warder.AgentUpdate{Config: &big}).Apply(&warder.Agent{}, "img"); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("patching a 70 KiB config = %v, want invalid", err)
	}
}
