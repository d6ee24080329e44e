package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// takeoverWithin is how soon another replica leads once the leader died.
const takeoverWithin = 5 * time.Second

// replicaProc is one `warder serve` process of a deployment of replicas.
type replicaProc struct {
	t      *testing.T
	name   string
	bin    string
	env    []string
	port   int
	base   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *apitest.Buffer
}

// replicaProcs starts n `warder serve` processes, replicas of one
// deployment on one throwaway PostgreSQL database, each on a free port,
// sharing a network (wrep-net-...), a host-port range and a secret key.
// Each is stopped (SIGTERM, then SIGKILL) when the test ends.
func replicaProcs(t *testing.T, n, portStart int) []*replicaProc {
	t.Helper()
	image, binary := testImage(t)
	bin := e2etest.BuildWarder(t)
	url := testenv.Postgres(t)
	key := make([]byte, 32)
	rand.Read(key)
	network := e2etest.Network(t, "wrep-net-")
	t.Cleanup(func() { cleanupByName(t, nil, network) }) // after every process is gone
	var ps []*replicaProc
	for i := range n {
		port := freePort(t)
		p := &replicaProc{t: t, name: fmt.Sprintf("replica %d", i), bin: bin, port: port,
			base: fmt.Sprintf("http://127.0.0.1:%d", port), log: &apitest.Buffer{},
			env: append(os.Environ(),
				"WARDER_ADDR=127.0.0.1:"+fmt.Sprint(port), "WARDER_DATA_DIR="+t.TempDir(), "WARDER_DATABASE_URL="+url,
				"WARDER_SECRET_KEY="+hex.EncodeToString(key), "AGENT_NETWORK="+network,
				"AGENT_IMAGE="+image, "WARDER_AGENT_BINARY="+binary, "WARDER_LOG_LEVEL=info", "WARDER_STOP_TIMEOUT=2s",
				fmt.Sprintf("AGENT_PORT_RANGE_START=%d", portStart), fmt.Sprintf("AGENT_PORT_RANGE_END=%d", portStart+99))}
		p.start()
		t.Cleanup(p.stop)
		ps = append(ps, p)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range ps {
				t.Logf("%s's log:\n%s", p.name, p.log.String())
			}
		}
	})
	return ps
}

// start runs the process and waits until it answers.
func (p *replicaProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(p.cmd)
	waitUp(p.t, p.port)
}

// signal sends sig and waits (up to a minute) for the process to end.
func (p *replicaProc) signal(sig syscall.Signal) time.Duration {
	p.t.Helper()
	began := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		p.t.Fatalf("%s did not end within a minute of %s", p.name, sig)
	}
	return time.Since(began)
}

// stop ends the process if it still runs.
func (p *replicaProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// leading reports whether the process says it holds the lease; false when
// it does not answer.
func (p *replicaProc) leading() bool {
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "warder_leader 1" {
			return true
		}
	}
	return false
}

// waitLeader waits until exactly one of ps leads and returns it.
func waitLeader(t *testing.T, ps []*replicaProc, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		which, n := -1, 0
		for i, p := range ps {
			if p.leading() {
				which, n = i, n+1
			}
		}
		if n == 1 {
			return which
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas lead after %s", n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicasLeaderKill9: the leading replica is killed with SIGKILL and
// an agent's container is killed right after, while no replica leads;
// another replica takes the lease within 5 s, and its resync records the
// exit, which reaches a client's event stream on a surviving replica.
func TestReplicasLeaderKill9(t *testing.T) {
	ps := replicaProcs(t, 3, 18800)
	root := apitest.Register(t, ps[0].base, "root")
	a := root.CreateAgent("survivor")
	t.Cleanup(func() { removeContainers(t, []apitest.Agent{a}) })
	root.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = root.WaitStatus(a.ID, statusWithin, apitest.Is(warder.StatusRunning))
	leader := waitLeader(t, ps, 10*time.Second)
	var survivors []*replicaProc
	for i, p := range ps {
		if i != leader {
			survivors = append(survivors, p)
		}
	}
	onSurvivor := &apitest.Client{T: t, Base: survivors[0].base, Token: root.Token, UserID: root.UserID}
	events := onSurvivor.Open("/api/events", true)

	cli := dockerClient(t)
	killed := time.Now()
	if err := ps[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerKill(context.Background(), a.ContainerID, moby.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	containerKilled := time.Since(killed)
	<-ps[leader].exited
	next := waitLeader(t, survivors, takeoverWithin+time.Second)
	took := time.Since(killed)
	if took > takeoverWithin {
		t.Errorf("%s took the lease %s after the leader was killed", survivors[next].name, took)
	}
	ev := events.Next(t, 10*time.Second)
	var c warder.StatusChange
	ev.Decode(t, &c)
	if c.AgentID == a.ID && c.To == warder.StatusRunning {
		// The stream opened right after the start was recorded: the
		// survivor's feed may hand it the start after it subscribed. A
		// race of the test (2 runs in 10 at load 10), not a lost change.
		ev = events.Next(t, 10*time.Second)
		ev.Decode(t, &c)
	}
	// The new leader finds the exit by its resync on taking the lease, or
	// (when it led before the kill reached the engine) by Docker's event.
	if c.AgentID != a.ID || c.To != warder.StatusExited || (c.Actor != "resync" && c.Actor != "docker") {
		t.Fatalf("the stream on a survivor got %s %s; want the exit, recorded by the new leader", ev.Name, ev.Data)
	}
	got := onSurvivor.WaitStatus(a.ID, time.Second, apitest.Is(warder.StatusExited))
	if got.ExitCode == nil || *got.ExitCode != 137 {
		t.Errorf("exit code %v, want 137", got.ExitCode)
	}
	t.Logf("leader killed (SIGKILL); container killed %s later; %s led %s after the kill; the exit (found by %s) reached a survivor's stream %s after the kill",
		containerKilled.Round(time.Millisecond), survivors[next].name, took.Round(time.Millisecond), c.Actor, ev.Received.Sub(killed).Round(time.Millisecond))
}

// follower is an /api/events client across replicas, as behind a load
// balancer: when its stream ends it reconnects to the next replica that
// answers, sending Last-Event-ID.
type follower struct {
	token     string
	mu        sync.Mutex
	got       []warder.StatusChange
	ids       []int64
	cleanEnds int
	unclean   []string
	on        atomic.Int32 // the replica it is connected to now
	connected atomic.Bool  // it has had a stream open
}

// run follows until ctx ends.
func (f *follower) run(ctx context.Context, ps []*replicaProc) {
	i, last := 0, ""
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", ps[i].base+"/api/events", nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Accept", "text/event-stream")
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			if err == nil {
				resp.Body.Close()
			}
			i = (i + 1) % len(ps)
			time.Sleep(20 * time.Millisecond) // the next try, not an assertion
			continue
		}
		f.on.Store(int32(i))
		f.connected.Store(true)
		last = f.read(resp, last)
		resp.Body.Close()
		i = (i + 1) % len(ps)
	}
}

// read takes events from one stream until it ends; it returns the last id.
func (f *follower) read(resp *http.Response, last string) string {
	sc := bufio.NewScanner(resp.Body)
	var name, id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			f.mu.Lock()
			switch name {
			case "status":
				var c warder.StatusChange
				json.Unmarshal([]byte(data), &c)
				f.got = append(f.got, c)
				f.ids = append(f.ids, c.ID)
				last = id
			case "end":
				if strings.Contains(data, "shutting down") {
					f.cleanEnds++
				} else {
					f.unclean = append(f.unclean, data)
				}
				f.mu.Unlock()
				return last
			}
			f.mu.Unlock()
			name, id, data = "", "", ""
		}
	}
	if resp.Request.Context().Err() == nil {
		f.mu.Lock()
		f.unclean = append(f.unclean, fmt.Sprintf("stream broke without an end event: %v", sc.Err()))
		f.mu.Unlock()
	}
	return last
}

// TestReplicasRollingRestart: three replicas are restarted one at a time
// (SIGTERM, start again) while a client follows /api/events and agents
// are started and stopped through whichever replica answers. Each
// restart ends the client's stream with a clean "end" event; the client
// reconnects elsewhere with Last-Event-ID and in the end has seen every
// status change in the agents' histories, once each, in order. No
// request answered 5xx.
func TestReplicasRollingRestart(t *testing.T) {
	ps := replicaProcs(t, 3, 18900)
	root := apitest.Register(t, ps[0].base, "root")
	agents := []apitest.Agent{root.CreateAgent("rolling-a"), root.CreateAgent("rolling-b")}
	drained := root.CreateAgent("drained") // restarted as each replica stops
	t.Cleanup(func() { removeContainers(t, append(agents, drained)) })

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	f := &follower{token: root.Token}
	var followed sync.WaitGroup
	followed.Go(func() { f.run(ctx, ps) })
	for !f.connected.Load() { // its first stream is open: it sees every change from here on
		time.Sleep(10 * time.Millisecond)
	}
	root.MustDo("POST", "/api/agents/"+drained.ID+"/start", nil, 200, nil)

	// The worker: start, stop, start, ... each agent, on any replica.
	var changes atomic.Int32
	var failures []string
	var fmu sync.Mutex
	var worked sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	worked.Go(func() {
		hc := &http.Client{Timeout: 30 * time.Second}
		for n := 0; wctx.Err() == nil; n++ {
			a := agents[n%2]
			op := []string{"start", "stop"}[(n/2)%2]
			for r := n; wctx.Err() == nil; r++ {
				req, _ := http.NewRequest("POST", ps[r%3].base+"/api/agents/"+a.ID+"/"+op, nil)
				req.Header.Set("Authorization", "Bearer "+root.Token)
				resp, err := hc.Do(req)
				if err != nil {
					continue // that replica is down: the next one, as a load balancer would
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					fmu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s on %s: %d", op, a.Name, ps[r%3].name, resp.StatusCode))
					fmu.Unlock()
				}
				break
			}
			changes.Add(1)
		}
	})

	waitFor := func(what string, within time.Duration, ok func() bool) bool {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Errorf("%s: not within %s", what, within)
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	if !waitFor("the first changes", time.Minute, func() bool { return changes.Load() >= 4 }) {
		t.FailNow()
	}
	for round := range 3 {
		i := int(f.on.Load()) // the replica the client is on
		wasLeader := ps[i].leading()
		before := changes.Load()
		// A request in flight on the replica as it is told to stop: it
		// is finished, not cut.
		inFlight := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("POST", ps[i].base+"/api/agents/"+drained.ID+"/restart", nil)
			req.Header.Set("Authorization", "Bearer "+root.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				inFlight <- 0
				return
			}
			resp.Body.Close()
			inFlight <- resp.StatusCode
		}()
		elsewhere := &apitest.Client{T: t, Base: ps[(i+1)%3].base, Token: root.Token}
		elsewhere.WaitStatus(drained.ID, 10*time.Second, func(a apitest.Agent) bool {
			return a.Status == warder.StatusStopping || a.Status == warder.StatusStarting
		})
		drainedIn := ps[i].signal(syscall.SIGTERM)
		stopped := time.Now()
		if status := <-inFlight; status != 200 {
			t.Errorf("round %d: the restart in flight on %s as it stopped got %d", round, ps[i].name, status)
		}
		others := append(append([]*replicaProc{}, ps[:i]...), ps[i+1:]...)
		if wasLeader {
			waitLeader(t, others, takeoverWithin)
			t.Logf("round %d: the leader %s stopped in %s; another led %s later", round, ps[i].name, drainedIn.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
		} else {
			t.Logf("round %d: %s stopped in %s", round, ps[i].name, drainedIn.Round(time.Millisecond))
		}
		if !waitFor("changes while a replica is down", time.Minute, func() bool { return changes.Load() >= before+2 }) {
			t.FailNow()
		}
		ps[i].start()
		if !waitFor("changes after the restart", time.Minute, func() bool { return changes.Load() >= before+4 }) {
			t.FailNow()
		}
	}
	stopWork()
	worked.Wait()

	// Every change in the histories reaches the client, once, in order.
	followedAgents := append(agents, drained)
	var want []*warder.AgentEvent
	for _, a := range followedAgents {
		var h warder.AgentEventsResponse
		root.MustDo("GET", "/api/agents/"+a.ID+"/events?limit=1000", nil, 200, &h)
		want = append(want, h.Events...)
	}
	waitFor("every change at the client", 10*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.got) >= len(want)
	})
	stop()
	followed.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i < len(f.ids); i++ {
		if f.ids[i] <= f.ids[i-1] {
			t.Errorf("ids out of order or repeated: %d after %d", f.ids[i], f.ids[i-1])
		}
	}
	for _, a := range followedAgents {
		var got, exp []string
		for _, c := range f.got {
			if c.AgentID == a.ID {
				got = append(got, fmt.Sprintf("%s>%s by %s", c.From, c.To, c.Actor))
			}
		}
		for _, e := range want {
			if e.AgentID == a.ID {
				exp = append(exp, fmt.Sprintf("%s>%s by %s", e.From, e.To, e.Actor))
			}
		}
		if strings.Join(got, "\n") != strings.Join(exp, "\n") {
			t.Errorf("%s: the client saw\n%s\nthe history says\n%s", a.Name, strings.Join(got, "\n"), strings.Join(exp, "\n"))
		}
	}
	if f.cleanEnds != 3 || len(f.unclean) > 0 {
		t.Errorf("%d clean ends (want 3, one a restart); unclean: %v", f.cleanEnds, f.unclean)
	}
	if len(failures) > 0 {
		t.Errorf("5xx answers during the restarts: %v", failures)
	}
	t.Logf("%d status changes over 3 restarts, %d requests; the client saw each once", len(want), changes.Load())
}

// removeContainers removes the agents' containers by exact name.
func removeContainers(t *testing.T, agents []apitest.Agent) {
	cli := dockerClient(t)
	for _, a := range agents {
		_, err := cli.ContainerRemove(context.Background(), warder.ContainerName(a.ID), moby.ContainerRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing %s: %v", warder.ContainerName(a.ID), err)
		}
	}
}
