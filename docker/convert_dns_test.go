package docker

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestInternalDNS: an internal agent's embedded resolver forwards to a
// loopback address inside the container (nowhere), one with egress keeps
// the engine's servers; the engine reads it as "Dns".
func TestInternalDNS(t *testing.T) {
	spec := baseSpec()
	req, err := containerConfig(spec, basePlacement())
	if err != nil {
		t.Fatal(err)
	}
	if len(req.HostConfig.DNS) != 0 {
		t.Errorf("an egress agent's DNS = %v, want the engine's", req.HostConfig.DNS)
	}
	spec.Internal, spec.Publish = true, false
	p := basePlacement()
	p.HostPort = 0
	if req, err = containerConfig(spec, p); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req.HostConfig)
	if len(req.HostConfig.DNS) != 1 || req.HostConfig.DNS[0].String() != "127.0.0.1" || !strings.Contains(string(b), `"Dns":["127.0.0.1"]`) {
		t.Errorf("an internal agent's DNS = %v (%s)", req.HostConfig.DNS, b)
	}
}
