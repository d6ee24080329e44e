package warder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/warder/warder"
)

func TestAgentUpdateApply(t *testing.T) {
	a := &warder.Agent{Name: "a", Type: "chat", ContainerConfig: warder.ContainerConfig{Image: "warder/agent:latest", MemoryLimit: "512m", CPULimit: 0.5, Port: 8000}}
	mem := "1g"
	name := "  renamed "
	u := warder.AgentUpdate{Name: &name, ContainerConfig: &warder.ContainerConfigUpdate{MemoryLimit: &mem}}
	if err := u.Apply(a, "warder/agent:latest"); err != nil {
		t.Fatal(err)
	}
	if a.Name != "renamed" || a.ContainerConfig.MemoryLimit != "1g" || a.ContainerConfig.CPULimit != 0.5 {
		t.Fatalf("after Apply: %+v", a)
	}
	bad := "lots"
	u = warder.AgentUpdate{ContainerConfig: &warder.ContainerConfigUpdate{MemoryLimit: &bad}}
	if err := u.Apply(a, "warder/agent:latest"); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("Apply(memory lots) = %v, want ErrInvalid", err)
	}
	if a.ContainerConfig.MemoryLimit != "1g" {
		t.Fatalf("a failed Apply changed the agent: %+v", a.ContainerConfig)
	}
	empty := "   "
	if err := (&warder.AgentUpdate{Name: &empty}).Apply(a, ""); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("Apply(empty name) = %v", err)
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
	if err := warder.NormalizeConfig(&cc, "img"); !errors.Is(err, warder.ErrInvalid) {
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
