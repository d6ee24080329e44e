package e2etest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// NewKubernetesServer starts Warder with WARDER_RUNTIME=kubernetes on the
// test cluster (testenv.Kubernetes), in a namespace of its own, with the
// test agent image imported into the cluster; change adjusts the
// configuration first. When the test ends every agent's workload is
// removed and the namespace deleted.
func NewKubernetesServer(tb testing.TB, change func(*app.Config)) (*apitest.Server, *testenv.Cluster) {
	tb.Helper()
	cluster := testenv.Kubernetes(tb)
	image, binary := AgentImage(tb)
	cluster.ImportImage(tb, image)
	cfg := apitest.Config(tb)
	cfg.Runtime = "kubernetes"
	cfg.Kubeconfig = cluster.Kubeconfig
	cfg.K8sNamespace = testenv.UniqueName("wt-")
	cfg.Network = "warder_test"
	cfg.Image, cfg.AgentBinary = image, binary
	cfg.PortStart, cfg.PortEnd = 9000, 9500 // no host ports on Kubernetes; valid, unused
	if change != nil {
		change(&cfg)
	}
	ns := cfg.K8sNamespace
	tb.Cleanup(func() { cluster.Kubectl(tb, "delete", "namespace", ns, "--wait=false") })
	return apitest.Start(tb, cfg, nil, func(a *app.App) { removeWorkloads(tb, a) }), cluster
}

// removeWorkloads removes every agent's workload.
func removeWorkloads(tb testing.TB, a *app.App) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agents, err := a.Store().ListAgents(ctx, warder.AgentFilter{})
	if err != nil {
		tb.Errorf("cleanup: listing agents: %v", err)
	}
	for _, ag := range agents {
		if err := a.Runtime().Remove(ctx, warder.ContainerName(ag.ID)); err != nil && !errors.Is(err, warder.ErrUnavailable) {
			tb.Errorf("cleanup: removing the workload of %s: %v", ag.ID, err)
		}
	}
}
