package e2etest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/testenv"
)

// networks is every Docker network name this test binary handed out
// (Network), with the test it was for: Main checks that their tests
// removed them.
var networks struct {
	mu    sync.Mutex
	names map[string]string // network -> test
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
// belonged to. Each is a test that did not clean up after itself.
func leftNetworks() ([]string, error) {
	networks.mu.Lock()
	defer networks.mu.Unlock()
	if len(networks.names) == 0 {
		return nil, nil
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var left []string
	for name, test := range networks.names {
		for _, n := range []string{name, docker.InternalNetwork(name)} {
			res, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", n)})
			if err != nil {
				return left, err
			}
			for _, found := range res.Items {
				if found.Name != n { // the filter matches parts of names
					continue
				}
				if _, err := cli.NetworkRemove(ctx, found.ID, client.NetworkRemoveOptions{}); err != nil {
					return left, fmt.Errorf("removing network %s, left by %s: %w", n, test, err)
				}
				left = append(left, fmt.Sprintf("%s (%s, created %s)", n, test, found.Created.UTC().Format(time.TimeOnly)))
			}
		}
	}
	sort.Strings(left)
	return left, nil
}
