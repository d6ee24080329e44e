package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/agentbin"
	"github.com/warder/warder/internal/hostports"
	"github.com/warder/warder/internal/testkit/testenv"
)

// The agent binary and a test-only tag of its image are built once per
// test binary, on first use, and removed by TestMain at the end.
var agent struct {
	binOnce sync.Once
	binErr  error
	once    sync.Once
	dir     string
	binary  string
	image   string
	goBuild time.Duration // go build of warder-agent
	buildIn time.Duration // image build
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := removePodmanImage(); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
		code = 1
	}
	if err := testenv.StopPodman(); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: stop Podman: %v\n", err)
		code = 1
	}
	if agent.image != "" {
		if err := removeTestImage(agent.image); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: remove image %s: %v\n", agent.image, err)
			code = 1
		}
	}
	if agent.dir != "" {
		os.RemoveAll(agent.dir)
	}
	os.Exit(code)
}

func removeTestImage(ref string) error {
	r, err := New(Config{})
	if err != nil {
		return err
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r.RemoveImage(ctx, ref)
}

// testAgent returns the path of the warder-agent binary and the tag of an
// image built from it, building both on the first call.
func testAgent(t testing.TB) (binary, image string) {
	t.Helper()
	testenv.Docker(t)
	agent.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if agent.err = buildAgentBinary(ctx); agent.err != nil {
			return
		}
		r, err := New(Config{})
		if agent.err = err; err != nil {
			return
		}
		defer r.Close()
		agent.image = "warder-test/agent:" + testenv.UniqueName("")
		start := time.Now()
		agent.err = r.BuildAgentImage(ctx, agent.image, agent.binary)
		agent.buildIn = time.Since(start)
	})
	if agent.err != nil {
		t.Fatalf("building the test agent image: %v", agent.err)
	}
	return agent.binary, agent.image
}

// buildAgentBinary builds warder-agent into agent.dir, once, for the test
// images of both engines.
func buildAgentBinary(ctx context.Context) error {
	agent.binOnce.Do(func() {
		if agent.dir, agent.binErr = os.MkdirTemp("", "warder-agent-"); agent.binErr != nil {
			return
		}
		start := time.Now()
		agent.binary, agent.binErr = agentbin.Build(ctx, agent.dir)
		agent.goBuild = time.Since(start)
	})
	return agent.binErr
}

// newRuntime returns a Runtime on the local engine with a network of its
// own (removed at cleanup, after the containers registered later) and the
// test agent image as DefaultImage.
func newRuntime(t testing.TB, mod func(*Config)) *Runtime {
	t.Helper()
	binary, image := testAgent(t)
	return newRuntimeOn(t, "", binary, image, mod)
}

// newRuntimeOn is newRuntime on the engine at host ("": the default).
func newRuntimeOn(t testing.TB, host, binary, image string, mod func(*Config)) *Runtime {
	t.Helper()
	cfg := Config{
		Host:         host,
		Network:      testenv.UniqueName("warder-test-net-"),
		DefaultImage: image,
		Ports:        hostports.NewMemory(),
		PortStart:    21000,
		PortEnd:      21999,
		BindAddress:  "127.0.0.1",
		AgentBinary:  func(context.Context) (string, error) { return binary, nil },
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		for _, n := range []string{cfg.Network, InternalNetwork(cfg.Network)} {
			if err := r.RemoveNetwork(ctx, n); errors.Is(err, ErrEndpointCountLeak) {
				t.Logf("cleanup: %v", err) // the engine's defect: nothing is attached
			} else if err != nil {
				t.Errorf("cleanup: remove network %s: %v", n, err)
			}
		}
		r.Close()
	})
	return r
}

// startTestContainer runs Setup, then creates and starts a container of
// testSpec (removed at cleanup, as testSpec's are).
func startTestContainer(t *testing.T, r *Runtime) (warder.WorkloadSpec, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	must(t, r.Setup(ctx))
	spec := testSpec(t, r)
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	return spec, id
}

// cleanupCtx outlives the test's own contexts, as cleanup must.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// testSpec is an agent spec on r's network and image, published on a free
// loopback port. Its container is removed by name at cleanup, even if the
// test never created it.
func testSpec(t testing.TB, r *Runtime) warder.WorkloadSpec {
	t.Helper()
	name := testenv.UniqueName("warder-test-")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := r.Remove(ctx, name); err != nil {
			t.Errorf("cleanup: remove container %s: %v", name, err)
		}
	})
	return warder.WorkloadSpec{
		Name:  name,
		Image: r.cfg.DefaultImage,
		Env: map[string]string{
			"AGENT_ID": name, "AGENT_NAME": "test agent", "AGENT_TYPE": "echo", "PORT": "8000",
			"TEST_VAR": "secret-value",
		},
		Labels:      map[string]string{warder.LabelManaged: r.cfg.Network, warder.LabelAgentID: name},
		MemoryBytes: 64 << 20,
		AgentID:     name,
		MilliCPUs:   500,
		Port:        8000,
		Publish:     true,
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHealthy polls the agent's /health at its endpoint.
func waitHealthy(t *testing.T, r *Runtime, id string) string {
	t.Helper()
	return waitHealthyAt(t, endpointOf(t, r, id))
}

// waitHealthyAt polls /health at host:port until it answers 200, and
// returns the answer.
func waitHealthyAt(t *testing.T, endpoint string) string {
	t.Helper()
	url := "http://" + endpoint + "/health"
	hc := &http.Client{Timeout: 5 * time.Second} // a connection that hangs is a try, not the end
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never succeeded: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endpointOf is where the running container's agent answers.
func endpointOf(t *testing.T, r *Runtime, id string) string {
	t.Helper()
	st, err := r.Inspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Endpoint == "" {
		t.Fatalf("container %s (%s) has no endpoint", id, st.Phase)
	}
	return st.Endpoint
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// started is Runtime.Start's error, for must.
func started(_ warder.WorkloadState, err error) error { return err }
