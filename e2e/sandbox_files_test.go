package e2e

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestFilesOfUnstartedAgentsHoldNoPort: the files calls of agents that
// never ran hold no host port (issue 26: listing the files of never-started
// agents made containers that each held one, and 6 accounts could take
// the whole range); a start then gets a port and finds the files.
func TestFilesOfUnstartedAgentsHoldNoPort(t *testing.T) {
	t.Parallel()
	const start = 19640 // a range of two ports, this test's alone
	ts := newWorkspaceServer(t, func(c *app.Config) { c.PortStart, c.PortEnd = start, start+1 })
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	var agents []apitest.Agent
	for _, name := range []string{"a", "b", "c"} {
		a := alice.CreateAgent(name)
		agents = append(agents, a)
		alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/in/"+name+".txt", "for "+name, 200, nil)
		alice.MustDo("GET", "/api/agents/"+a.ID+"/files/in", nil, 200, nil)
		var got apitest.Agent
		alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
		if got.ContainerID == "" || got.HostPort != nil {
			t.Fatalf("after files calls agent %s has container %q and port %v, want a container and no port", name, got.ContainerID, got.HostPort)
		}
	}
	// The range is still free for anyone.
	other := bob.CreateAgent("runs")
	bob.MustDo("POST", "/api/agents/"+other.ID+"/start", nil, 200, nil)
	// A start replaces the files-only container with one that publishes,
	// on the same workspace.
	a := agents[0]
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var got apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &got)
	if got.HostPort == nil || *got.HostPort < start || *got.HostPort > start+1 {
		t.Fatalf("the started agent's port: %v", got.HostPort)
	}
	if out, exit := runAll(t, alice, a.ID, "/warder-agent", "cat", "/data/in/a.txt"); out != "for a" || !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("after its start the agent reads %q (%s)", out, exit)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var again apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &again)
	if again.ContainerID != got.ContainerID {
		t.Fatalf("a stop and start made a new container: %s then %s", got.ContainerID, again.ContainerID)
	}
}

// TestFilesLongNameIs400: a path element over 255 bytes, in the URL or in
// a tar entry, is a 400 with a clear detail (issue 26: a 500).
func TestFilesLongNameIs400(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("names")
	files := "/api/agents/" + a.ID + "/files/"
	long := strings.Repeat("n", 256)
	if code, raw := c.Do("PUT", files+"d/"+long, "x"); code != 400 || !strings.Contains(apitest.DetailOf(t, raw), "255") {
		t.Fatalf("PUT of a long name = %d %s", code, raw)
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "d/" + long + "/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	if code, raw := c.Do("PUT", files+"?format=tar", tb.Bytes()); code != 400 || !strings.Contains(apitest.DetailOf(t, raw), "255") {
		t.Fatalf("a tar with a long name = %d %s", code, raw)
	}
	if code, raw := c.Do("GET", files+long, nil); code != 400 {
		t.Fatalf("GET of a long name = %d %s", code, raw)
	}
}

// TestStoppedAgentsHoldNoPort: a stopped agent gives its host port up, so
// stopped agents cannot hold the range; its next start takes the same
// port again when it is still free, and a new container on a free port
// (its workspace kept) when someone took it meanwhile.
func TestStoppedAgentsHoldNoPort(t *testing.T) {
	t.Parallel()
	const start = 19650 // a range of two ports, this test's alone
	ts := newWorkspaceServer(t, func(c *app.Config) { c.PortStart, c.PortEnd = start, start+1 })
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	a := alice.CreateAgent("a")
	alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/keep.txt", "kept", 200, nil)
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var ran apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &ran)
	if ran.HostPort == nil || *ran.HostPort != start {
		t.Fatalf("the first start's port: %v", ran.HostPort)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	var stopped apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &stopped)
	if stopped.HostPort != nil {
		t.Fatalf("a stopped agent holds port %d", *stopped.HostPort)
	}
	// Its port is free for others now.
	b := bob.CreateAgent("b")
	bob.MustDo("POST", "/api/agents/"+b.ID+"/start", nil, 200, nil)
	var bs apitest.Agent
	bob.MustDo("GET", "/api/agents/"+b.ID, nil, 200, &bs)
	if bs.HostPort == nil || *bs.HostPort != start {
		t.Fatalf("bob's agent got port %v, want the freed %d", bs.HostPort, start)
	}
	// Alice's next start finds it taken: a new container on the other
	// port, with her files.
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	var again apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &again)
	if again.HostPort == nil || *again.HostPort != start+1 || again.ContainerID == ran.ContainerID {
		t.Fatalf("after her port was taken: port %v, container %s (was %s)", again.HostPort, again.ContainerID, ran.ContainerID)
	}
	if out, _ := runAll(t, alice, a.ID, "/warder-agent", "cat", "/data/keep.txt"); out != "kept" {
		t.Fatalf("the new container's workspace holds %q", out)
	}
	// Both run: chat reaches each on its own port.
	for _, c := range []struct {
		cl *apitest.Client
		id string
	}{{alice, a.ID}, {bob, b.ID}} {
		c.cl.MustDo("POST", "/api/agents/"+c.id+"/chat", map[string]any{"content": "hi", "role": "user"}, 200, nil)
	}
}
