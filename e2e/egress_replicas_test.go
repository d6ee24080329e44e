package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestReplicasShareEgressProxy: two replicas on one PostgreSQL database
// and one Docker network. One of them holds the proxy's address; it
// serves the agents made and started through either (the grant comes
// from the shared store). When it stops, the other takes the address
// over and the same agents, untouched, reach their lists again.
func TestReplicasShareEgressProxy(t *testing.T) {
	image, _ := testImage(t)
	cli := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	pub := makeEgressNet(t, ctx, cli, "wegr-pub-", true)
	web := runStandIn(t, ctx, cli, image, pub.Name, "0:0", []string{"PORT=8000"})
	webPub := standInIP(t, ctx, cli, web, pub.Name)
	waitServing(t, net.JoinHostPort(webPub.String(), "8000"))
	names := hostTable{"allowed.example": webPub}

	url := testenv.Postgres(t)
	key := make([]byte, 32)
	rand.Read(key)
	network := e2etest.Network(t, "wegr-rep-")
	var rs []*testServer
	for i := 0; i < 2; i++ {
		rs = append(rs, newTestServer(t, func(c *app.Config) {
			c.DatabaseURL, c.SecretKey, c.Network = url, hex.EncodeToString(key), network
			if i > 0 {
				c.PortStart, c.PortEnd = rs[0].Config.PortStart, rs[0].Config.PortEnd
			}
			c.EgressResolver = names
		}))
	}
	// The one that does not serve says so (at warn level; the one that
	// does says so at info, below the test servers' level).
	serving := -1
	waitFor(t, "one replica to find the proxy's address taken", func() (bool, string) {
		for i, r := range rs {
			if strings.Contains(r.Logs.String(), "address already in use") {
				serving = 1 - i
				return true, ""
			}
		}
		return false, "none yet"
	})
	root := rs[0].register(t, "root")
	var agents []string
	for i, r := range rs {
		c := on(root, r)
		a := c.CreateWith("lister-"+strconv.Itoa(i), map[string]any{"egress": []string{"allowed.example:8000"}})
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		agents = append(agents, a.ID)
	}
	reachWithin := 30 * time.Second
	reach := func(what string) {
		t.Helper()
		for i, id := range agents {
			waitWithin(t, reachWithin, what+": the agent made through replica "+strconv.Itoa(i), func() (bool, string) {
				out, _ := runAll(t, on(root, rs[1-serving]), id, "/warder-agent", "fetch", "http://allowed.example:8000/health")
				return strings.HasPrefix(out, "200 "), out
			})
		}
	}
	reach("through the replica holding the proxy")

	rs[serving].Stop() // its background work ends: the proxy stops listening
	other := rs[1-serving]
	reachWithin = 70 * time.Second // the other retries at most 30 s apart
	reach("after the take-over")
	var eg warder.AgentEgress
	on(root, other).MustDo("GET", "/api/agents/"+agents[serving]+"/egress", nil, 200, &eg)
	if !eg.Proxied {
		t.Errorf("GET egress through the other replica = %+v", eg)
	}
}

// waitWithin polls cond for up to d.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; last: %s", d, what, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
