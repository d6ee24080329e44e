package docker

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/warder/warder"
)

func baseSpec() warder.WorkloadSpec {
	return warder.WorkloadSpec{
		Name:        "warder-agent-a1",
		AgentID:     "a1",
		Image:       "warder/agent:latest",
		Env:         map[string]string{"PORT": "8000", "AGENT_ID": "a1", "B": "x=y"},
		Labels:      map[string]string{warder.LabelManaged: "true", warder.LabelAgentID: "a1"},
		MemoryBytes: 512 << 20,
		MilliCPUs:   500,
		Port:        8000,
		Publish:     true,
	}
}

func basePlacement() placement {
	return placement{Network: "warder_network", HostIP: "127.0.0.1", HostPort: 18000}
}

func TestContainerConfig(t *testing.T) {
	spec := baseSpec()
	req, err := containerConfig(spec, basePlacement())
	if err != nil {
		t.Fatal(err)
	}
	c, h := req.Config, req.HostConfig
	if c.Image != spec.Image || c.Tty || c.OpenStdin {
		t.Errorf("Config = %+v, want image %s, no TTY, no stdin", c, spec.Image)
	}
	if want := []string{"AGENT_ID=a1", "B=x=y", "PORT=8000"}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("Env = %v, want %v (sorted)", c.Env, want)
	}
	if !reflect.DeepEqual(c.Labels, spec.Labels) {
		t.Errorf("Labels = %v, want %v", c.Labels, spec.Labels)
	}
	spec.Labels["x"] = "mutated"
	if _, ok := c.Labels["x"]; ok {
		t.Error("Labels share the spec's map")
	}
	if h.Memory != 512<<20 || h.NanoCPUs != 500_000_000 {
		t.Errorf("Resources = %d bytes, %d nano CPUs", h.Memory, h.NanoCPUs)
	}
	if h.Privileged || h.RestartPolicy.Name != container.RestartPolicyDisabled || h.AutoRemove {
		t.Errorf("HostConfig = privileged %v, restart %q, auto-remove %v", h.Privileged, h.RestartPolicy.Name, h.AutoRemove)
	}
	wantLog := container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}}
	if !reflect.DeepEqual(h.LogConfig, wantLog) {
		t.Errorf("LogConfig = %+v, want %+v", h.LogConfig, wantLog)
	}
	if h.NetworkMode != "warder_network" || len(req.Networking.EndpointsConfig) != 1 || req.Networking.EndpointsConfig["warder_network"] == nil {
		t.Errorf("network = %q, endpoints %v", h.NetworkMode, req.Networking.EndpointsConfig)
	}
}

// TestContainerConfigJSON checks the request body the engine receives. The
// api module's port types are netip- and struct-based; what an API 1.41
// engine reads are these string forms.
func TestContainerConfigJSON(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*warder.WorkloadSpec, *placement)
		want    []string
		notWant []string
	}{
		{"loopback", nil, []string{
			`"ExposedPorts":{"8000/tcp":{}}`,
			`"PortBindings":{"8000/tcp":[{"HostIp":"127.0.0.1","HostPort":"18000"}]}`,
			`"NetworkMode":"warder_network"`,
			`"EndpointsConfig":{"warder_network":{`,
			`"RestartPolicy":{"Name":"no"`,
			`"Memory":536870912`, `"NanoCpus":500000000`,
			`"LogConfig":{"Type":"json-file","Config":{"max-file":"3","max-size":"10m"}}`,
		}, nil},
		{"all interfaces", func(s *warder.WorkloadSpec, p *placement) { p.HostIP = "" },
			[]string{`"PortBindings":{"8000/tcp":[{"HostIp":"","HostPort":"18000"}]}`}, nil},
		{"IPv6", func(s *warder.WorkloadSpec, p *placement) { p.HostIP = "::1"; s.Port = 9000 },
			[]string{`"ExposedPorts":{"9000/tcp":{}}`, `"PortBindings":{"9000/tcp":[{"HostIp":"::1","HostPort":"18000"}]}`}, nil},
		{"no host port", func(s *warder.WorkloadSpec, p *placement) { p.HostPort = 0 },
			[]string{`"ExposedPorts":{"8000/tcp":{}}`}, []string{`"PortBindings":{"`}},
		{"default network", func(s *warder.WorkloadSpec, p *placement) { p.Network = "" },
			[]string{`"NetworkMode":""`}, []string{`"NetworkingConfig"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, p := baseSpec(), basePlacement()
			if tt.mod != nil {
				tt.mod(&spec, &p)
			}
			req, err := containerConfig(spec, p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(container.CreateRequest{Config: req.Config, HostConfig: req.HostConfig, NetworkingConfig: req.Networking})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("request lacks %s:\n%s", w, b)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(b), w) {
					t.Errorf("request has %s:\n%s", w, b)
				}
			}
		})
	}
}

func TestContainerConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*warder.WorkloadSpec, *placement)
	}{
		{"host name as bind address", func(s *warder.WorkloadSpec, p *placement) { p.HostIP = "localhost" }},
		{"container port 0", func(s *warder.WorkloadSpec, p *placement) { s.Port = 0 }},
		{"container port too large", func(s *warder.WorkloadSpec, p *placement) { s.Port = 70000 }},
		{"host port too large", func(s *warder.WorkloadSpec, p *placement) { p.HostPort = 70000 }},
	}
	for _, tt := range tests {
		spec, p := baseSpec(), basePlacement()
		tt.mod(&spec, &p)
		if _, err := containerConfig(spec, p); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}
