package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Cluster is the test Kubernetes cluster that kubernetes/testcluster/up.sh
// started in the directory WARDER_K8S_CLUSTER names.
type Cluster struct {
	Dir        string
	Kubeconfig string
	kubectl    string
	socket     string // its containerd's
}

// Kubernetes skips tb unless WARDER_K8S_CLUSTER names a running test
// cluster; with WARDER_REQUIRE_KUBERNETES=1 that fails tb instead.
func Kubernetes(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := cluster()
	if err == nil {
		return c
	}
	if os.Getenv("WARDER_REQUIRE_KUBERNETES") == "1" {
		tb.Fatalf("Kubernetes is required (WARDER_REQUIRE_KUBERNETES=1) but unusable: %v", err)
	}
	tb.Skipf("no test cluster (start one with kubernetes/testcluster/up.sh and set WARDER_K8S_CLUSTER, or set WARDER_REQUIRE_KUBERNETES=1 to fail instead): %v", err)
	return nil
}

func cluster() (*Cluster, error) {
	dir := os.Getenv("WARDER_K8S_CLUSTER")
	if dir == "" {
		return nil, fmt.Errorf("WARDER_K8S_CLUSTER is not set")
	}
	bin, err := os.ReadFile(filepath.Join(dir, "run", "bin"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a test cluster: %w", dir, err)
	}
	c := &Cluster{
		Dir:        dir,
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		kubectl:    filepath.Join(strings.TrimSpace(string(bin)), "kubectl"),
		socket:     filepath.Join(dir, "containerd", "containerd.sock"),
	}
	if _, err := c.run("get", "--raw", "/readyz"); err != nil {
		return nil, fmt.Errorf("the test cluster in %s does not answer: %w", dir, err)
	}
	return c, nil
}

// Kubectl runs kubectl against the cluster and returns its output.
func (c *Cluster) Kubectl(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := c.run(args...)
	if err != nil {
		tb.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// NodeIP is the address of the cluster's one node: this machine, where
// the tests and Warder run.
func (c *Cluster) NodeIP(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, "run", "node-ip"))
	if err != nil {
		tb.Fatalf("the test cluster's node address: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// Try runs kubectl against the cluster; a failure is returned, not fatal.
func (c *Cluster) Try(args ...string) (string, error) { return c.run(args...) }

func (c *Cluster) run(args ...string) (string, error) {
	cmd := exec.Command(c.kubectl, append([]string{"--kubeconfig", c.Kubeconfig, "--request-timeout=30s"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// imported holds one *importOnce per image name.
var imported sync.Map

type importOnce struct {
	once sync.Once
	err  error
}

// ImportImage copies a Docker image into the cluster's container runtime,
// once per test binary: nothing can be pulled here, so this is how the
// cluster gets the agent image (an operator names a registry instead).
func (c *Cluster) ImportImage(tb testing.TB, image string) {
	tb.Helper()
	v, _ := imported.LoadOrStore(image, &importOnce{})
	im := v.(*importOnce)
	im.once.Do(func() {
		cmd := exec.Command("sh", "-c", `docker save "$1" | ctr -a "$2" -n k8s.io images import -`, "import", image, c.socket)
		if out, err := cmd.CombinedOutput(); err != nil {
			im.err = fmt.Errorf("%w: %s", err, out)
		}
	})
	if im.err != nil {
		tb.Fatalf("importing %s into the test cluster: %v", image, im.err)
	}
}
