package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/llmtest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestKubernetesEgress: egress lists and the LLM gateway on the test
// cluster, whose NetworkPolicies are enforced (kubernetes/testcluster).
// Warder runs outside the cluster with its egress proxy on the node's
// address (WARDER_EGRESS_PROXY=IP:PORT), and Setup's proxy policy lets
// agents on the internal network reach that address and port only.
// From inside real agent pods: an agent with a list reaches a listed
// name through the proxy and is refused an unlisted one; it opens no
// connection of its own, neither to the stand-in "internet" (a Docker
// container on a documentation block, which the proxy resolves names
// to: nothing leaves the machine) nor to another port of the node,
// which an egress agent does reach (so the policy is what stops it);
// an agent with egress "none" chats with its model through the
// gateway on the proxy's address, and reaches nothing else.
func TestKubernetesEgress(t *testing.T) {
	t.Parallel()
	cluster := testenv.Kubernetes(t)
	image, _ := e2etest.AgentImage(t)
	cli := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	pub := makeEgressNet(t, ctx, cli, "wk8e-pub-", true)
	web := runStandIn(t, ctx, cli, image, pub.Name, "0:0", []string{"PORT=8000"})
	webPub := standInIP(t, ctx, cli, web, pub.Name)
	webAddr := net.JoinHostPort(webPub.String(), "8000")
	waitServing(t, webAddr)
	up := llmtest.New(t, llmRealKey)

	// The proxy's address: a free port on the node's address, which pods
	// reach. A listener on another port of it is what agents must not
	// reach (and egress agents do).
	nodeIP := cluster.NodeIP(t)
	free, err := net.Listen("tcp", net.JoinHostPort(nodeIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := free.Addr().String()
	free.Close()
	otherAddr := nodeListener(t, nodeIP)

	ts, _ := e2etest.NewKubernetesServer(t, func(c *app.Config) {
		c.EgressProxy = proxyAddr
		c.EgressResolver = hostTable{"allowed.example": webPub, "other.example": webPub}
		c.LLMUpstreams = []app.LLMUpstream{{Name: "stand-in", URL: up.BaseURL(), Key: llmRealKey}}
	})
	apitest.Register(t, ts.URL, "root")
	alice := apitest.Register(t, ts.URL, "alice")
	start := func(name string, cc map[string]any) apitest.Agent {
		t.Helper()
		var a apitest.Agent
		alice.MustDo("POST", "/api/agents", map[string]any{"name": name, "config": map[string]any{"model": "gpt-test"}, "container_config": cc}, 201, &a)
		alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		return a
	}
	listed := start("k8e-listed", map[string]any{"egress": []string{"allowed.example:8000"}})
	none := start("k8e-none", map[string]any{"egress": "none"})
	open := start("k8e-all", map[string]any{"egress": "all"})

	reaches := func(a apitest.Agent, addr string) bool {
		_, exit := runAll(t, alice, a.ID, "/warder-agent", "probe", addr)
		return strings.Contains(exit, `"exit_code":0`)
	}
	fetch := func(a apitest.Agent, rawURL string) string {
		out, _ := runAll(t, alice, a.ID, "/warder-agent", "fetch", rawURL)
		return strings.TrimSpace(out)
	}

	// The control: an egress agent reaches the node's other port, so the
	// path is open and a policy is what closes it for the others.
	waitWithin(t, 90*time.Second, "an egress agent to reach the node", func() (bool, string) { return reaches(open, otherAddr), otherAddr })
	// Enforcement follows the pods asynchronously (the policy controller
	// learns a pod's address from the API server): wait until the
	// listed agent is cut from the node's other port, then check the rest.
	waitWithin(t, 90*time.Second, "the listed agent to be cut from the node's other port", func() (bool, string) { return !reaches(listed, otherAddr), otherAddr })
	if reaches(none, otherAddr) {
		t.Errorf("an agent with egress none opened a connection to the node at %s", otherAddr)
	}
	for _, a := range []apitest.Agent{listed, none} {
		if !reaches(a, proxyAddr) {
			t.Errorf("%s cannot reach the egress proxy at %s", a.Name, proxyAddr)
		}
		if reaches(a, webAddr) {
			t.Errorf("%s connected to the stand-in at %s directly", a.Name, webAddr)
		}
	}

	// Through the proxy: the listed name, and only it.
	if got := fetch(listed, "http://allowed.example:8000/health"); !strings.HasPrefix(got, "200 ") {
		t.Errorf("the listed agent fetching a listed name: %q", got)
	}
	if got := fetch(listed, "http://other.example:8000/health"); !strings.HasPrefix(got, "403 warder egress: other.example:8000 is not in this agent's egress list") {
		t.Errorf("the listed agent fetching a name not listed: %q", got)
	}
	if got := fetch(none, "http://allowed.example:8000/health"); strings.HasPrefix(got, "200 ") {
		t.Errorf("an agent with egress none fetched through the proxy: %q", got)
	}

	// The LLM gateway, on the proxy's address, for both.
	for _, a := range []apitest.Agent{listed, none} {
		status, raw := alice.Do("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello"})
		if status != http.StatusOK || !strings.Contains(string(raw), "You said: hello") {
			t.Errorf("%s chatting through the gateway: %d %s", a.Name, status, raw)
		}
		envOut, _ := runAll(t, alice, a.ID, "/warder-agent", "env")
		if strings.Contains(envOut, llmRealKey) || !strings.Contains(envOut, "OPENAI_BASE_URL=http://"+proxyAddr+"/llm/v1") {
			t.Errorf("%s's env (the provider's key must not be in it, the gateway's URL must):\n%s", a.Name, envOut)
		}
	}
	if got := up.Metered.Load(); got != 2*llmtest.Tokens {
		t.Errorf("the provider metered %d tokens, want %d", got, 2*llmtest.Tokens)
	}
}
