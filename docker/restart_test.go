package docker

import (
	"errors"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/warder/warder"
)

func TestContainerConfigRestartPolicy(t *testing.T) {
	tests := []struct {
		policy  string
		retries int
		want    container.RestartPolicy
	}{
		{"", 0, container.RestartPolicy{Name: "no"}},
		{"no", 0, container.RestartPolicy{Name: "no"}},
		{"on-failure", 0, container.RestartPolicy{Name: "on-failure"}},
		{"on-failure", 3, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		{"unless-stopped", 0, container.RestartPolicy{Name: "unless-stopped"}},
	}
	for _, tt := range tests {
		spec := baseSpec()
		spec.Restart = warder.RestartPolicy{Mode: warder.RestartMode(tt.policy), MaxRetries: tt.retries}
		req, err := containerConfig(spec, basePlacement())
		if err != nil {
			t.Errorf("%q max %d: %v", tt.policy, tt.retries, err)
			continue
		}
		if got := req.HostConfig.RestartPolicy; got != tt.want {
			t.Errorf("%q max %d: RestartPolicy = %+v, want %+v", tt.policy, tt.retries, got, tt.want)
		}
	}
	bad := []struct {
		policy  string
		retries int
	}{
		{"always", 0},         // restarts even after a daemon restart stopped it: not offered
		{"on-failure:3", 0},   // the caller parses that form
		{"no", 2},             // the engine refuses a count without on-failure
		{"unless-stopped", 1}, // likewise
		{"on-failure", -1},
	}
	for _, tt := range bad {
		spec := baseSpec()
		spec.Restart = warder.RestartPolicy{Mode: warder.RestartMode(tt.policy), MaxRetries: tt.retries}
		if _, err := containerConfig(spec, basePlacement()); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("%q max %d: err = %v, want ErrInvalid", tt.policy, tt.retries, err)
		}
	}
}

// TestContainerConfigNoSwap: swap is limited to the memory limit, so an
// agent over its limit is OOM-killed rather than swapped; no limit means
// no limit on either.
func TestContainerConfigNoSwap(t *testing.T) {
	for _, mem := range []int64{512 << 20, 16 << 20, 0} {
		spec := baseSpec()
		spec.MemoryBytes = mem
		req, err := containerConfig(spec, basePlacement())
		if err != nil {
			t.Fatal(err)
		}
		if h := req.HostConfig; h.Memory != mem || h.MemorySwap != mem {
			t.Errorf("MemoryBytes %d: Memory %d, MemorySwap %d; want both %d", mem, h.Memory, h.MemorySwap, mem)
		}
	}
}
