package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// BenchmarkKubernetesStart compares an agent's start on Kubernetes
// through Warder with a bare `kubectl apply` of the same Pod, pair by pair
// on the test cluster (10 pairs, or WARDER_BENCH_STARTS), from the request
// until the agent answers:
//
//   - warder: POST /api/agents/{id}/start, then GET /proxy/health through
//     Warder every 5 ms until it answers 200.
//   - kubectl: `kubectl apply -f` of the Pod Warder made for that agent (read
//     back with kubectl, renamed, its status and server-set fields
//     removed, its env read from the same Secret), `kubectl wait` for its
//     pod IP, then GET /health on it every 5 ms until 200.
//
// Pairs alternate which side goes first; both Pods are deleted before the
// next pair.
//
//	WARDER_K8S_CLUSTER=/tmp/k8s go test -run '^$' -bench BenchmarkKubernetesStart -benchtime 1x -timeout 30m ./bench/
func BenchmarkKubernetesStart(b *testing.B) {
	n := 10
	if v := os.Getenv("WARDER_BENCH_STARTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ts, cluster := e2etest.NewKubernetesServer(b, nil)
	bc := benchLogin(b, ts.URL)
	ns := ts.Config.K8sNamespace
	kubectl := func(args ...string) (string, error) { return cluster.Try(append([]string{"-n", ns}, args...)...) }
	manifestFile := b.TempDir() + "/floor.json"
	must := func(out string, err error) string {
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	var viaWarder, viaKubectl, ratios []float64
	for i := -1; i < n; i++ { // one warm-up pair
		var a struct {
			ID string `json:"id"`
		}
		bc.call(b, "POST", "/api/agents", map[string]any{"name": fmt.Sprintf("k8s-%02d", i+1),
			"container_config": map[string]any{"memory_limit": "32m", "cpu_limit": 0.25}}, 201, &a)

		warderSide := func() time.Duration {
			t0 := time.Now()
			bc.call(b, "POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
			for bc.try("GET", "/api/agents/"+a.ID+"/proxy/health", nil, 200, nil) != nil {
				time.Sleep(5 * time.Millisecond)
			}
			return time.Since(t0)
		}
		floorName := testenv.UniqueName("bench-floor-")
		kubectlSide := func() time.Duration {
			t0 := time.Now()
			must(kubectl("apply", "-f", manifestFile))
			ip := strings.Trim(must(kubectl("wait", "pod/"+floorName, "--for=jsonpath={.status.podIP}", "--timeout=120s", "-o", "jsonpath={.status.podIP}")), "'")
			for {
				resp, err := hc.Get("http://" + ip + ":8000/health")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return time.Since(t0)
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		// The floor's manifest is the Pod Warder makes: start the agent
		// once to read it, then stop it again.
		bc.call(b, "POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		manifest := floorManifest(b, must(kubectl("get", "pod", warder.ContainerName(a.ID), "-o", "json")), floorName)
		if err := os.WriteFile(manifestFile, []byte(manifest), 0o600); err != nil {
			b.Fatal(err)
		}
		bc.call(b, "POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)

		var dw, dk time.Duration
		if i%2 == 0 {
			dw, dk = warderSide(), kubectlSide()
		} else {
			dk, dw = kubectlSide(), warderSide()
		}
		must(kubectl("delete", "pod", floorName, "--grace-period=0", "--force", "--wait=true"))
		bc.call(b, "DELETE", "/api/agents/"+a.ID, nil, 200, nil)
		if i < 0 {
			continue
		}
		viaWarder, viaKubectl = append(viaWarder, ms(dw)), append(viaKubectl, ms(dk))
		ratios = append(ratios, float64(dw)/float64(dk))
	}
	b.ReportMetric(pct(viaWarder, 0.5), "warder-p50-ms")
	b.ReportMetric(pct(viaWarder, 0.95), "warder-p95-ms")
	b.ReportMetric(pct(viaKubectl, 0.5), "kubectl-p50-ms")
	b.ReportMetric(pct(viaKubectl, 0.95), "kubectl-p95-ms")
	b.ReportMetric(pct(ratios, 0.5), "ratio-p50")
	b.ReportMetric(pct(ratios, 0.95), "ratio-p95")
}

// floorManifest turns a Pod read back from the cluster into one to apply
// under another name: no status, no server-set metadata, no node.
func floorManifest(tb testing.TB, raw, name string) string {
	var p map[string]any
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		tb.Fatal(err)
	}
	delete(p, "status")
	md := p["metadata"].(map[string]any)
	p["metadata"] = map[string]any{"name": name, "namespace": md["namespace"], "labels": map[string]string{"bench": "floor"}}
	spec := p["spec"].(map[string]any)
	delete(spec, "nodeName")
	out, _ := json.Marshal(p)
	return string(out)
}
