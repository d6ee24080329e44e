package e2etest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/testkit/testenv"
)

// networks is every Docker network name this test binary handed out
// (Network), with the test it was for: Main checks that their tests
// removed them.
var networks struct {
	mu    sync.Mutex
	names map[string]string // network -> test
	stuck map[string]bool   // the engine would not remove them (docker.ErrEndpointCountLeak)
}

// stuckNetwork records a network that its test removed everything from
// but the engine still refuses to remove: leftNetworks skips it and Main
// names it.
func stuckNetwork(name string) {
	networks.mu.Lock()
	defer networks.mu.Unlock()
	if networks.stuck == nil {
		networks.stuck = make(map[string]bool)
	}
	networks.stuck[name] = true
}

func isStuck(name string) bool {
	networks.mu.Lock()
	defer networks.mu.Unlock()
	return networks.stuck[name]
}

// stuckNetworks returns the networks recorded by stuckNetwork, sorted.
func stuckNetworks() []string {
	networks.mu.Lock()
	defer networks.mu.Unlock()
	return slices.Sorted(maps.Keys(networks.stuck))
}

// Network returns a unique network name for tb's Warder (prefix, then
// random hex). The test removes the network, and its internal twin, when
// it ends; Main reports and removes, by these exact names, any that a
// test left behind.
func Network(tb testing.TB, prefix string) string {
	name := testenv.UniqueName(prefix)
	networks.mu.Lock()
	defer networks.mu.Unlock()
	if networks.names == nil {
		networks.names = make(map[string]string)
	}
	networks.names[name] = tb.Name()
	return name
}

// leftNetworks removes every network handed out by Network that still
// exists, and its internal twin, by exact name, and says which test each
// belonged to. Each is a test that did not clean up after itself. One the
// engine will not remove though nothing is attached is recorded as stuck.
func leftNetworks() ([]string, error) {
	networks.mu.Lock()
	names := maps.Clone(networks.names)
	networks.mu.Unlock()
	if len(names) == 0 {
		return nil, nil
	}
	rt, err := docker.New(docker.Config{})
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var left []string
	for name, test := range names {
		for _, n := range []string{name, docker.InternalNetwork(name)} {
			if isStuck(n) {
				continue
			}
			created, found, err := rt.NetworkCreated(ctx, n)
			if err != nil {
				return left, err
			}
			if !found {
				continue
			}
			err = rt.RemoveNetwork(ctx, n)
			if errors.Is(err, docker.ErrEndpointCountLeak) {
				stuckNetwork(n)
				continue
			} else if err != nil {
				return left, fmt.Errorf("removing network %s, left by %s: %w", n, test, err)
			}
			left = append(left, fmt.Sprintf("%s (%s, created %s)", n, test, created.UTC().Format(time.TimeOnly)))
		}
	}
	sort.Strings(left)
	return left, nil
}
