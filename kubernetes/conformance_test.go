package kubernetes_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/kubernetes"
	"github.com/warder/warder/sqlstore"
)

func TestMain(m *testing.M) { e2etest.Main(m) }

// newRuntime returns a runtime on the test cluster in a namespace of its
// own, set up, with the test agent image imported; the namespace and all
// in it are deleted when the test ends.
func newRuntime(t *testing.T) (r *kubernetes.Runtime, c *testenv.Cluster, image, ns string) {
	t.Helper()
	c = testenv.Kubernetes(t)
	image, _ = e2etest.AgentImage(t)
	c.ImportImage(t, image)
	ns = testenv.UniqueName("wt-")
	r, err := kubernetes.New(kubernetes.Config{Kubeconfig: c.Kubeconfig, Namespace: ns, Network: "warder_test", StartTimeout: time.Minute, HelperImage: image})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Kubectl(t, "delete", "namespace", ns, "--wait=false")
		r.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return r, c, image, ns
}

// TestConformance runs the runtime conformance suite on the real cluster.
func TestConformance(t *testing.T) {
	r, _, image, _ := newRuntime(t)
	db, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/warder.db", sqlstore.SyncFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u := &warder.User{ID: uuid.NewString(), Username: "owner", Email: "owner@example.com", PasswordHash: "x", Role: warder.RoleUser}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	runtimetest.Run(t, runtimetest.Harness{
		Runtime: r,
		Spec: func(t *testing.T) warder.WorkloadSpec {
			spec := runtimetest.AgentSpec(t, db, u.ID, image, warder.SpecSettings{Network: "warder_test"})
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := r.Remove(ctx, spec.Name); err != nil {
					t.Errorf("cleanup: remove %s: %v", spec.Name, err)
				}
			})
			return spec
		},
		Within: time.Minute,
	})
}

// TestSetupMakesPolicies checks the namespace and the NetworkPolicies that
// isolate agents exist, and that Setup run twice changes nothing.
func TestSetupMakesPolicies(t *testing.T) {
	r, c, _, ns := newRuntime(t)
	if err := r.Setup(context.Background()); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	have := strings.Fields(c.Kubectl(t, "get", "networkpolicies", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}"))
	for _, name := range r.PolicyNames() {
		if !slices.Contains(have, name) {
			t.Errorf("policy %s missing from namespace %s, which has %v", name, ns, have)
		}
	}
	// Agents accept control-plane pods of one namespace only: with a
	// kubeconfig and no WARDER_K8S_CONTROL_NAMESPACE, the agents' own.
	from := c.Kubectl(t, "get", "networkpolicy", "-n", ns, "warder-warder-test-ingress", "-o", "jsonpath={.spec.ingress[*].from}")
	want := `[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"` + ns + `"}},"podSelector":{"matchLabels":{"warder.io/control-plane":"true"}}}]`
	if from != want {
		t.Errorf("ingress from = %s, want %s", from, want)
	}
}
