package warder_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/warder/warder"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512m", 512 << 20, true},
		{"1g", 1 << 30, true},
		{"256MiB", 256 << 20, true},
		{"1.5G", 3 << 29, true},
		{"  64mb ", 64 << 20, true},
		{"104857600", 100 << 20, true},
		{"lots", 0, false},
		{"-1m", 0, false},
		{"", 0, false},
		{"5m", 0, false}, // below Docker's minimum
		{"2t", 0, false}, // above the cap
		{"12 parsecs", 0, false},
		{"1e3m", 0, false},
	}
	for _, tt := range tests {
		got, err := warder.ParseMemory(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("ParseMemory(%q) error %v is not ErrInvalid", tt.in, err)
		}
	}
}

func TestContainerConfigNormalize(t *testing.T) {
	ok := func() warder.ContainerConfig { return warder.ContainerConfig{} }
	tests := []struct {
		name   string
		change func(*warder.ContainerConfig)
		ok     bool
	}{
		{"defaults", func(c *warder.ContainerConfig) {}, true},
		{"seed body", func(c *warder.ContainerConfig) {
			*c = warder.ContainerConfig{Image: "warder/agent:latest", MemoryLimit: "512m", CPULimit: 0.5, EnvVars: map[string]string{"TEST_VAR": "test_value"}}
		}, true},
		{"negative cpu", func(c *warder.ContainerConfig) { c.CPULimit = -1 }, false},
		{"absurd cpu", func(c *warder.ContainerConfig) { c.CPULimit = 1e6 }, false},
		{"bad memory", func(c *warder.ContainerConfig) { c.MemoryLimit = "lots" }, false},
		{"env name with dash", func(c *warder.ContainerConfig) { c.EnvVars = map[string]string{"BAD-NAME": "x"} }, false},
		{"env name with digit first", func(c *warder.ContainerConfig) { c.EnvVars = map[string]string{"1X": "x"} }, false},
		{"env name reserved", func(c *warder.ContainerConfig) { c.EnvVars = map[string]string{"AGENT_ID": "x"} }, false},
		{"env value NUL", func(c *warder.ContainerConfig) { c.EnvVars = map[string]string{"X": "a\x00b"} }, false},
		{"image with space", func(c *warder.ContainerConfig) { c.Image = "bad image" }, false},
		{"image uppercase repo", func(c *warder.ContainerConfig) { c.Image = "Bad/Image" }, false},
		{"registry image", func(c *warder.ContainerConfig) { c.Image = "registry.example.com:5000/team/agent:v1.2" }, true},
		{"port too high", func(c *warder.ContainerConfig) { c.Port = 70000 }, false},
		{"custom port", func(c *warder.ContainerConfig) { c.Port = 3000 }, true},
		{"restart on-failure:3", func(c *warder.ContainerConfig) { c.RestartPolicy = "on-failure:3" }, true},
		{"restart unless-stopped", func(c *warder.ContainerConfig) { c.RestartPolicy = "unless-stopped" }, true},
		{"restart always", func(c *warder.ContainerConfig) { c.RestartPolicy = "always" }, false},
		{"restart on-failure:0", func(c *warder.ContainerConfig) { c.RestartPolicy = "on-failure:0" }, false},
		{"restart no:3", func(c *warder.ContainerConfig) { c.RestartPolicy = "no:3" }, false},
		{"auto stop", func(c *warder.ContainerConfig) { c.AutoStopMinutes = 15 }, true},
		{"auto stop negative", func(c *warder.ContainerConfig) { c.AutoStopMinutes = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.change(&c)
			err := warder.NormalizeConfig(&c, "warder/agent:latest")
			if tt.ok != (err == nil) {
				t.Fatalf("Normalize = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (!errors.Is(err, warder.ErrInvalid) || warder.ErrorMessage(err) == "") {
				t.Fatalf("error %v is not an ErrInvalid with a message", err)
			}
		})
	}
	c := ok()
	if err := warder.NormalizeConfig(&c, "warder/agent:latest"); err != nil {
		t.Fatal(err)
	}
	want := warder.ContainerConfig{Image: "warder/agent:latest", MemoryLimit: "512m", CPULimit: 0.5, EnvVars: map[string]string{}, Port: 8000, RestartPolicy: "no"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
}

func TestSpecFor(t *testing.T) {
	a := &warder.Agent{
		ID: "0b6f0a3e-8c55-4a53-9b1b-6f7f5f2a1c11", UserID: "u1", Name: "Test Container Agent", Type: "chat",
		ContainerConfig: warder.ContainerConfig{Image: "warder/agent:latest", MemoryLimit: "256MiB", CPULimit: 1.5, EnvVars: map[string]string{"TEST_VAR": "test_value"}, Port: 8000, RestartPolicy: "on-failure:3"},
		HostPort:        9001,
	}
	got, err := warder.SpecFor(a, warder.SpecSettings{Network: "warder_network"})
	if err != nil {
		t.Fatal(err)
	}
	want := warder.WorkloadSpec{
		Name:    "warder-agent-0b6f0a3e-8c55-4a53-9b1b-6f7f5f2a1c11",
		AgentID: a.ID,
		Image:   "warder/agent:latest",
		Env: map[string]string{
			"TEST_VAR": "test_value", "AGENT_ID": a.ID, "AGENT_NAME": "Test Container Agent", "AGENT_TYPE": "chat", "PORT": "8000",
			"AGENT_CONFIG": "{}",
		},
		Labels: map[string]string{
			"warder.managed": "warder_network", "warder.agent.id": a.ID, "warder.agent.name": "Test Container Agent", "warder.agent.user_id": "u1",
		},
		MemoryBytes: 256 << 20, MilliCPUs: 1500, PidsLimit: 256,
		Port: 8000, Publish: true,
		Restart: warder.RestartPolicy{Mode: warder.RestartOnFailure, MaxRetries: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SpecFor =\n%+v\nwant\n%+v", got, want)
	}
	a.ContainerConfig.Network = warder.NetworkInternal
	if got, err := warder.SpecFor(a, warder.SpecSettings{}); err != nil || got.Publish || !got.Internal {
		t.Fatalf("SpecFor of an internal agent = %+v, %v; want internal, unpublished", got, err)
	}
}

// TestSpecForLLMGateway: with the gateway, an agent gets its variables,
// unless its own env_vars or secret_env names either; a gateway that
// cannot be reached yet fails the spec.
func TestSpecForLLMGateway(t *testing.T) {
	gw := func(id string) (map[string]string, error) {
		return map[string]string{"OPENAI_BASE_URL": "http://gw/llm/v1", "OPENAI_API_KEY": "wllm." + id}, nil
	}
	for _, tc := range []struct {
		name string
		cc   warder.ContainerConfig
		want string // OPENAI_API_KEY
	}{
		{"plain", warder.ContainerConfig{}, "wllm.a1"},
		{"own base URL", warder.ContainerConfig{EnvVars: map[string]string{"OPENAI_BASE_URL": "https://api.example.com/v1"}}, ""},
		{"own key, sealed", warder.ContainerConfig{SecretEnvNames: []string{"OPENAI_API_KEY"}}, ""},
		{"own key, being sealed", warder.ContainerConfig{SecretEnv: map[string]string{"OPENAI_API_KEY": "sk-own"}}, ""},
		{"other secrets", warder.ContainerConfig{SecretEnvNames: []string{"LLM_API_KEY"}}, "wllm.a1"},
	} {
		tc.cc.MemoryLimit = "64m"
		a := &warder.Agent{ID: "a1", ContainerConfig: tc.cc}
		spec, err := warder.SpecFor(a, warder.SpecSettings{LLMGateway: gw})
		if err != nil || spec.Env["OPENAI_API_KEY"] != tc.want {
			t.Errorf("%s: OPENAI_API_KEY %q, %v; want %q", tc.name, spec.Env["OPENAI_API_KEY"], err, tc.want)
		}
	}
	down := func(string) (map[string]string, error) { return nil, warder.Errorf(warder.ErrUnavailable, "not yet") }
	if _, err := warder.SpecFor(&warder.Agent{ID: "a1", ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m"}}, warder.SpecSettings{LLMGateway: down}); err == nil {
		t.Error("a gateway not reachable yet made a spec")
	}
}
