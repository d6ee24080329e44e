package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/warder/warder/internal/testkit/testenv"
)

// outsideHost is a host beyond the Docker host: a network namespace joined
// to it by a veth pair, so traffic from a container to it is forwarded out
// of the Docker host, as traffic to the internet would be.
type outsideHost struct {
	Addr string // host:port of a server in the namespace
}

// newOutsideHost makes the namespace, with the agent binary serving on
// port 8080 inside it, and removes all of it when the test ends. It needs
// root and iproute2; without them the test is skipped (or fails, when
// WARDER_REQUIRE_DOCKER=1: the egress test is part of the Docker suite).
func newOutsideHost(t *testing.T, agentBinary string) *outsideHost {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("WARDER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("the egress test needs root and iproute2 (ip): euid %d, %v", os.Geteuid(), err)
		}
		t.Skip("the egress test needs root and iproute2")
	}
	id := testenv.UniqueName("")[:8]
	ns, hostEnd, nsEnd := "wns"+id, "wvh"+id, "wvn"+id
	// A /30 in 10.203.0.0/16 picked from the id keeps parallel runs apart.
	var b byte
	fmt.Sscanf(id[:2], "%02x", &b)
	hostIP, nsIP := fmt.Sprintf("10.203.%d.1", b), fmt.Sprintf("10.203.%d.2", b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostEnd).Run() })
	run("link", "set", nsEnd, "netns", ns)
	run("addr", "add", hostIP+"/30", "dev", hostEnd)
	run("link", "set", hostEnd, "up")
	run("-n", ns, "addr", "add", nsIP+"/30", "dev", nsEnd)
	run("-n", ns, "link", "set", nsEnd, "up")
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", ns, "route", "add", "default", "via", hostIP)

	srv := exec.Command("ip", "netns", "exec", ns, agentBinary)
	srv.Env = append(os.Environ(), "PORT=8080")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	addr := net.JoinHostPort(nsIP, "8080")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return &outsideHost{Addr: addr}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outside host never served on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
