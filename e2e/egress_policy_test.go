package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestEgressPolicy: agents with a list of destinations, from inside
// their containers, through the real server and its egress proxy. The
// stand-in "internet" is containers on a network of the test's own, in
// a documentation block (203.0.113.0/24, which the proxy counts as
// public), and the proxy resolves names with the test's table: no
// question or packet leaves the machine. A listed name is reached; an
// unlisted name, an IP literal, a name resolving to a private address,
// a direct connection and raw DNS are not; a private address is reached
// once listed by IP (a list changed while the agent runs, taking effect
// within the grant cache's seconds); the ceiling is enforced at the API
// (403 naming the entry); another tenant's credentials are useless, and
// an owner disabled revokes them; refusals are in /metrics, on the
// agent's egress endpoint and in the audit log, aggregated.
func TestEgressPolicy(t *testing.T) {
	t.Parallel()
	image, _ := testImage(t)
	cli := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	pub := makeEgressNet(t, ctx, cli, "wegr-pub-", true)
	priv := makeEgressNet(t, ctx, cli, "wegr-priv-", false)
	web := runStandIn(t, ctx, cli, image, pub.Name, "0:0", []string{"PORT=8000"})
	dns := runStandIn(t, ctx, cli, image, pub.Name, "0:0", nil, "udp-echo", ":53")
	if _, err := cli.NetworkConnect(ctx, priv.Name, moby.NetworkConnectOptions{Container: web}); err != nil {
		t.Fatal(err)
	}
	webPub, webPriv, dnsPub := standInIP(t, ctx, cli, web, pub.Name), standInIP(t, ctx, cli, web, priv.Name), standInIP(t, ctx, cli, dns, pub.Name)
	waitServing(t, net.JoinHostPort(webPub.String(), "8000"))
	names := hostTable{"allowed.example": webPub, "other.example": webPub, "private.example": webPriv}

	privCIDR := priv.IPAM.Config[0].Subnet.String()
	ts := newTestServer(t, func(c *app.Config) {
		c.DefaultNetwork = warder.NetworkInternal
		c.EgressCeiling = []string{"*.example:8000", privCIDR}
		c.EgressResolver = names
		c.EgressSummaryEvery = 200 * time.Millisecond
	})
	root := ts.register(t, "root") // the admin
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")

	// The ceiling, at the API.
	for _, bad := range []any{[]string{"evil.invalid"}, "all", []string{"allowed.example:8000", "203.0.113.0/24"}} {
		status, raw := alice.Do("POST", "/api/agents", map[string]any{"name": "x", "container_config": map[string]any{"egress": bad}})
		if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "outside what the operator allows") && !strings.Contains(apitest.DetailOf(t, raw), "ceiling") {
			t.Errorf("egress %v beyond the ceiling = %d %s", bad, status, raw)
		}
	}
	if status, raw := alice.Do("POST", "/api/agents", map[string]any{"name": "x", "container_config": map[string]any{"egress": []string{"evil.invalid"}}}); !strings.Contains(string(raw), `evil.invalid`) {
		t.Errorf("the refusal does not name the entry: %d %s", status, raw)
	}
	if status, raw := alice.Do("POST", "/api/agents", map[string]any{"name": "x", "container_config": map[string]any{"egress": []string{"allowed.example:8000"}, "network": "egress"}}); status != http.StatusBadRequest {
		t.Errorf("a list on the egress network = %d %s", status, raw)
	}

	a := alice.CreateWith("lister", map[string]any{"egress": []string{"allowed.example:8000", "private.example:8000"}})
	if a.ContainerConfig.Network != warder.NetworkInternal || !a.ContainerConfig.Egress.Listed() {
		t.Fatalf("an agent with a list: network %q, egress %v", a.ContainerConfig.Network, a.ContainerConfig.Egress)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	fetch := func(c *apitest.Client, id, rawURL string, proxy ...string) string {
		t.Helper()
		cmd := append(append([]string{"/warder-agent", "fetch"}, proxy...), rawURL)
		out, _ := runAll(t, c, id, cmd...)
		return strings.TrimSpace(out)
	}
	webURL := "http://" + net.JoinHostPort(webPub.String(), "8000") + "/health"
	refusedOther := 3
	for _, tc := range []struct{ url, want string }{
		{"http://allowed.example:8000/health", "200 "},
		{"http://private.example:8000/health", "403 warder egress: private.example resolves to " + webPriv.String() + " is a private address"},
		{webURL, "403 warder egress: " + net.JoinHostPort(webPub.String(), "8000") + " is not in this agent's egress list"},
	} {
		if got := fetch(alice, a.ID, tc.url); !strings.HasPrefix(got, tc.want) {
			t.Errorf("fetch %s from the agent = %q, want %q...", tc.url, got, tc.want)
		}
	}
	for range refusedOther {
		if got := fetch(alice, a.ID, "http://other.example:8000/health"); !strings.HasPrefix(got, "403 warder egress: other.example:8000 is not in this agent's egress list") {
			t.Errorf("fetch of a name not listed = %q", got)
		}
	}
	// No way around the proxy: a direct connection, to either of the
	// stand-in's addresses, and a DNS question straight to a server.
	for _, addr := range []string{net.JoinHostPort(webPub.String(), "8000"), net.JoinHostPort(webPriv.String(), "8000")} {
		if out, exit := runAll(t, alice, a.ID, "/warder-agent", "probe", addr); !strings.Contains(exit, `"exit_code":1`) {
			t.Errorf("the agent connected to %s directly: %s %s", addr, out, exit)
		}
	}
	dnsAddr := net.JoinHostPort(dnsPub.String(), "53")
	if out, exit := runAll(t, alice, a.ID, "/warder-agent", "dns", dnsAddr, "allowed.example"); !strings.Contains(exit, `"exit_code":1`) {
		t.Errorf("the agent's raw DNS reached %s: %s %s", dnsAddr, out, exit)
	}
	// Docker's own resolver in the agent's container answers no outside
	// name: it forwards to a loopback address inside the container
	// (docker/convert.go), so the question cannot leave the machine even
	// through the engine; and nothing listens on the host's port 53
	// either way.
	if out, _ := runAll(t, alice, a.ID, "/warder-agent", "dns", "127.0.0.11:53", "allowed.example"); strings.Contains(out, "answered") && !strings.Contains(out, " 0 answers") {
		t.Errorf("the embedded resolver answered an outside name: %s", out)
	} else {
		t.Logf("the embedded resolver, asked for an outside name: %s", strings.TrimSpace(out))
	}
	if res, err := cli.ContainerInspect(ctx, a.ContainerID, moby.ContainerInspectOptions{}); err != nil {
		t.Fatal(err)
	} else if dns := res.Container.HostConfig.DNS; len(dns) != 1 || dns[0].String() != "127.0.0.1" {
		t.Errorf("the agent's container has DNS servers %v, want 127.0.0.1 (inside it: nowhere)", dns)
	}
	// The same probes from the stand-ins' own network get through: the
	// failures above are the agent's network's doing.
	if out := runToEnd(t, ctx, cli, image, pub.Name, "dns", dnsAddr, "allowed.example"); !strings.Contains(out, "answered") {
		t.Errorf("the DNS stand-in does not answer even on its own network, so the test proves nothing: %s", out)
	}
	if out := runToEnd(t, ctx, cli, image, pub.Name, "probe", net.JoinHostPort(webPub.String(), "8000")); !strings.Contains(out, "reachable") {
		t.Errorf("the web stand-in is not reachable even on its own network: %s", out)
	}

	// A private address, once listed by IP (within the ceiling's CIDR),
	// is reached: the list changes while the agent runs.
	alice.MustDo("PATCH", "/api/agents/"+a.ID, map[string]any{"container_config": map[string]any{"egress": []string{"allowed.example:8000", "private.example:8000", webPriv.String() + ":8000"}}}, 200, nil)
	waitFor(t, "the listed private address to be reached", func() (bool, string) {
		got := fetch(alice, a.ID, "http://private.example:8000/health")
		return strings.HasPrefix(got, "200 "), got
	})

	// The agent's credentials: in its environment, nowhere in the API.
	envOut, _ := runAll(t, alice, a.ID, "/warder-agent", "env")
	aliceProxy := envValue(envOut, "HTTP_PROXY")
	pu, err := url.Parse(aliceProxy)
	if err != nil || pu.User == nil || pu.User.Username() != a.ID {
		t.Fatalf("HTTP_PROXY of the agent = %q", aliceProxy)
	}
	aliceToken, _ := pu.User.Password()
	for _, path := range []string{"/api/agents/" + a.ID, "/api/agents", "/api/agents/" + a.ID + "/egress"} {
		if _, raw := alice.Do("GET", path, nil); strings.Contains(string(raw), aliceToken) {
			t.Errorf("GET %s shows the agent's proxy token", path)
		}
	}
	if _, raw := root.Do("GET", "/api/audit?limit=500", nil); strings.Contains(string(raw), aliceToken) {
		t.Error("the audit log shows the agent's proxy token")
	}

	// Another tenant: bob's agent sees nothing of alice's, and its own
	// token with her agent's name is refused (407).
	b := bob.CreateWith("other-tenant", map[string]any{"egress": []string{"allowed.example:8000"}})
	bob.MustDo("POST", "/api/agents/"+b.ID+"/start", nil, 200, nil)
	bobEnv, _ := runAll(t, bob, b.ID, "/warder-agent", "env")
	bu, err := url.Parse(envValue(bobEnv, "HTTP_PROXY"))
	if err != nil || bu.User == nil {
		t.Fatalf("HTTP_PROXY of bob's agent = %q", envValue(bobEnv, "HTTP_PROXY"))
	}
	bobToken, _ := bu.User.Password()
	if bobToken == aliceToken {
		t.Fatal("two agents have the same proxy token")
	}
	if got := fetch(bob, b.ID, "http://allowed.example:8000/health"); !strings.HasPrefix(got, "200 ") {
		t.Errorf("bob's agent, its own credentials: %q", got)
	}
	forged := *bu
	forged.User = url.UserPassword(a.ID, bobToken)
	if got := fetch(bob, b.ID, "http://allowed.example:8000/health", "-proxy", forged.String()); !strings.HasPrefix(got, "407 ") {
		t.Errorf("bob's agent with alice's agent's name and its own token: %q", got)
	}
	for _, path := range []string{"/api/agents/" + a.ID, "/api/agents/" + a.ID + "/egress"} {
		if status, _ := bob.Do("GET", path, nil); status != http.StatusNotFound {
			t.Errorf("bob GET %s = %d", path, status)
		}
	}

	// What was refused: the agent's page, /metrics, the audit log (one
	// row per destination and reason per period, counts summed).
	var eg warder.AgentEgress
	waitFor(t, "the refusals on the agent's egress endpoint", func() (bool, string) {
		alice.MustDo("GET", "/api/agents/"+a.ID+"/egress", nil, 200, &eg)
		n := uint64(0)
		for _, r := range eg.Refusals {
			if r.Destination == "other.example:8000" && r.Reason == "not_listed" {
				n = r.Count
			}
		}
		return n == uint64(refusedOther), fmt.Sprintf("%+v", eg)
	})
	if !eg.Proxied || len(eg.Egress) != 3 || eg.Network != warder.NetworkInternal || eg.Refused < uint64(refusedOther)+2 {
		t.Errorf("GET egress = %+v", eg)
	}
	_, metricsPage := root.Do("GET", "/metrics", nil)
	for _, want := range []string{`warder_egress_refused_total{reason="not_listed"}`, `warder_egress_refused_total{reason="address"}`, "warder_egress_allowed_total"} {
		if !strings.Contains(string(metricsPage), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var audit struct{ Entries []warder.AuditEntry }
	root.MustDo("GET", "/api/audit?limit=500", nil, 200, &audit)
	rows, sum := 0, uint64(0)
	for i, e := range audit.Entries {
		if r, ok := warder.ParseEgressAudit(&audit.Entries[i]); ok && e.AgentID == a.ID && r.Destination == "other.example:8000" {
			rows++
			sum += r.Count
			if e.Username != "alice" || e.Status != http.StatusForbidden {
				t.Errorf("audit row %+v", e)
			}
		}
	}
	if sum != uint64(refusedOther) || rows == 0 {
		t.Errorf("the audit log has %d rows summing %d refusals of other.example, want %d", rows, sum, refusedOther)
	}

	// Revocation: alice's credentials work from anywhere that reaches the
	// proxy, until her account is disabled.
	proxied := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}}
	statusVia := func() int {
		resp, err := proxied.Get("http://allowed.example:8000/health")
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := statusVia(); got != 200 {
		t.Fatalf("alice's credentials from the test = %d", got)
	}
	var users []warder.User
	root.MustDo("GET", "/api/admin/users", nil, 200, &users)
	for _, u := range users {
		if u.Username == "alice" {
			root.MustDo("POST", "/api/admin/users/"+u.ID+"/disable", nil, 200, nil)
		}
	}
	waitFor(t, "a disabled owner's agent's credentials to be refused", func() (bool, string) {
		got := statusVia()
		return got == http.StatusProxyAuthRequired, fmt.Sprint(got)
	})
}

// hostTable is the proxy's resolver in the test: fixed answers, and
// "no such host" for every other name (no real DNS is asked).
type hostTable map[string]netip.Addr

func (h hostTable) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := h[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// publicBlocks hands out /28s of 203.0.113.0/24 (TEST-NET-3: never
// routed, and public to the proxy) to this process's tests.
var publicBlocks struct {
	mu   sync.Mutex
	used map[int]bool
}

// makeEgressNet makes a bridge network of the test's own, in a /28 of
// TEST-NET-3 when public, else where Docker puts it; removed by name.
func makeEgressNet(t *testing.T, ctx context.Context, cli *moby.Client, prefix string, public bool) network.Inspect {
	t.Helper()
	name := testenv.UniqueName(prefix)
	var err error
	for try := 0; try < 16; try++ {
		opts := moby.NetworkCreateOptions{Driver: "bridge"}
		if public {
			publicBlocks.mu.Lock()
			if publicBlocks.used == nil {
				publicBlocks.used = map[int]bool{}
			}
			if len(publicBlocks.used) == 16 {
				publicBlocks.mu.Unlock()
				break // err says why the last one failed
			}
			i := rand.IntN(16)
			for publicBlocks.used[i] {
				i = (i + 1) % 16
			}
			publicBlocks.used[i] = true
			publicBlocks.mu.Unlock()
			opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix(fmt.Sprintf("203.0.113.%d/28", i*16))}}}
		}
		if _, err = cli.NetworkCreate(ctx, name, opts); err == nil {
			break
		}
		if !public {
			break
		}
	}
	if err != nil {
		t.Fatalf("creating network %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.NetworkRemove(ctx, name, moby.NetworkRemoveOptions{}); err != nil {
			t.Errorf("removing network %s: %v", name, err)
		}
	})
	res, err := cli.NetworkInspect(ctx, name, moby.NetworkInspectOptions{})
	if err != nil || len(res.Network.IPAM.Config) == 0 {
		t.Fatalf("network %s: %v", name, err)
	}
	return res.Network
}

// runStandIn starts the agent image on net (as user, with env and the
// binary's args), removed by id when the test ends.
func runStandIn(t *testing.T, ctx context.Context, cli *moby.Client, image, net, user string, env []string, args ...string) string {
	t.Helper()
	name := testenv.UniqueName("wegr-c-")
	res, err := cli.ContainerCreate(ctx, moby.ContainerCreateOptions{
		Name:             name,
		Config:           &container.Config{Image: image, Cmd: args, Env: env, User: user},
		HostConfig:       &container.HostConfig{NetworkMode: container.NetworkMode(net)},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ContainerRemove(ctx, res.ID, moby.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing container %s: %v", name, err)
		}
	})
	if _, err := cli.ContainerStart(ctx, res.ID, moby.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// runToEnd runs the image's binary with args on net and returns its
// output once it exits.
func runToEnd(t *testing.T, ctx context.Context, cli *moby.Client, image, net string, args ...string) string {
	t.Helper()
	id := runStandIn(t, ctx, cli, image, net, "", nil, args...)
	w := cli.ContainerWait(ctx, id, moby.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		t.Fatalf("waiting for %s: %v", id, err)
	}
	logs, err := cli.ContainerLogs(ctx, id, moby.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	b, _ := io.ReadAll(io.LimitReader(logs, 1<<16))
	return string(b)
}

func standInIP(t *testing.T, ctx context.Context, cli *moby.Client, id, net string) netip.Addr {
	t.Helper()
	res, err := cli.ContainerInspect(ctx, id, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep := res.Container.NetworkSettings.Networks[net]
	if ep == nil || !ep.IPAddress.IsValid() {
		t.Fatalf("container %s has no address on %s", id, net)
	}
	return ep.IPAddress
}

// waitServing waits for a TCP listener at addr (reached from the host).
func waitServing(t *testing.T, addr string) {
	t.Helper()
	waitFor(t, addr+" to serve", func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s; last: %s", what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// envValue is NAME's value in env's output (NAME=VALUE lines).
func envValue(env, name string) string {
	for _, line := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+"="); ok {
			return v
		}
	}
	return ""
}
