package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/apitest"
)

// ticks reads an exec's streamed output and sends the number of each
// "tick N" line it holds, until the output ends.
func ticks(body io.Reader) <-chan int {
	out := make(chan int, 1024)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			line := sc.Text()
			for {
				i := strings.Index(line, "tick ")
				if i < 0 {
					break
				}
				line = line[i+5:]
				j := 0
				for j < len(line) && line[j] >= '0' && line[j] <= '9' {
					j++
				}
				if n, err := strconv.Atoi(line[:j]); err == nil {
					out <- n
				}
			}
		}
	}()
	return out
}

// nextTick waits for the next tick until deadline; false when none came.
func nextTick(ch <-chan int, within time.Duration) (int, bool) {
	select {
	case n, ok := <-ch:
		return n, ok
	case <-time.After(within):
		return 0, false
	}
}

// TestPauseKeepsMemory: on Docker, through the real server, a command
// counting in the agent stops counting while the agent is paused (the
// engine shows it paused, its port and address kept) and, once a chat
// resumes the agent on its own, goes on from where it was: the same
// process, its memory kept.
func TestPauseKeepsMemory(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("counter")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	resp := alice.Stream("POST", "/api/agents/"+a.ID+"/exec", `{"cmd": ["/warder-agent", "tick", "100000", "0.05"], "timeout": "5m"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("exec = %d", resp.StatusCode)
	}
	defer resp.Body.Close()
	count := ticks(resp.Body)
	seen := 0
	for seen < 3 {
		n, ok := nextTick(count, 30*time.Second)
		if !ok {
			t.Fatal("the counter never counted")
		}
		seen = n
	}
	var paused apitest.Agent
	alice.MustDo("POST", "/api/agents/"+a.ID+"/pause", nil, 200, &paused)
	if paused.Status != warder.StatusPaused || paused.HostPort == nil || a.HostPort == nil || *paused.HostPort != *a.HostPort {
		t.Fatalf("paused agent: %s, port %v (was %v)", paused.Status, paused.HostPort, a.HostPort)
	}
	ins, err := dockerClient(t).ContainerInspect(context.Background(), a.ContainerID, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ins.Container.State.Paused {
		t.Fatalf("the engine says the container is %s, not paused", ins.Container.State.Status)
	}
	// Ticks written before the freeze may still be on their way; then
	// nothing comes for a second and a half (30 ticks' time).
	frozeAt := time.Now()
	for {
		n, ok := nextTick(count, 1500*time.Millisecond)
		if !ok {
			break
		}
		if n != seen+1 || time.Since(frozeAt) > time.Second {
			t.Fatalf("the counter went on while paused: tick %d after tick %d, %v after the pause", n, seen, time.Since(frozeAt))
		}
		seen = n
	}
	var reply warder.ChatReply
	alice.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]string{"content": "are you there?"}, 200, &reply)
	if reply.Content == "" {
		t.Fatal("an empty answer from the resumed agent")
	}
	var now apitest.Agent
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &now)
	if now.Status != warder.StatusRunning {
		t.Fatalf("after a chat to the paused agent it is %s", now.Status)
	}
	n, ok := nextTick(count, 10*time.Second)
	if !ok {
		t.Fatal("the counter did not go on after the resume")
	}
	if n != seen+1 {
		t.Fatalf("after the resume the counter says %d, after %d: not the same process and memory", n, seen)
	}
}

// TestResumeOnEveryPath: a paused agent is resumed by chat, the proxy,
// exec, files, stats and a followed log, each answering as if it had been
// running; the history says who resumed it and why.
func TestResumeOnEveryPath(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	alice := ts.register(t, "alice")
	a := alice.CreateAgent("sleeper")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	base := "/api/agents/" + a.ID
	for _, c := range []struct {
		name string
		call func() int
	}{
		{"chat", func() int { s, _ := alice.Do("POST", base+"/chat", map[string]string{"content": "hi"}); return s }},
		{"proxy", func() int { s, _ := alice.Do("GET", base+"/proxy/health", nil); return s }},
		{"exec", func() int {
			resp := alice.Stream("POST", base+"/exec", `{"cmd": ["/warder-agent", "echo", "hi"]}`)
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			return resp.StatusCode
		}},
		{"files", func() int { s, _ := alice.Do("GET", base+"/files/", nil); return s }},
		{"stats", func() int { s, _ := alice.Do("GET", base+"/stats", nil); return s }},
		{"logs", func() int {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", alice.Base+base+"/logs?follow=true&lines=1", nil)
			req.Header.Set("Authorization", "Bearer "+alice.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			defer resp.Body.Close()
			return resp.StatusCode
		}},
	} {
		var p apitest.Agent
		alice.MustDo("POST", base+"/pause", nil, 200, &p)
		if p.Status != warder.StatusPaused {
			t.Fatalf("before %s: %s", c.name, p.Status)
		}
		if status := c.call(); status != 200 {
			t.Fatalf("%s to a paused agent = %d", c.name, status)
		}
		var now apitest.Agent
		alice.MustDo("GET", base, nil, 200, &now)
		if now.Status != warder.StatusRunning {
			t.Fatalf("after %s to a paused agent it is %s", c.name, now.Status)
		}
	}
	var history struct{ Events []*warder.AgentEvent }
	alice.MustDo("GET", base+"/events?limit=100", nil, 200, &history)
	resumed := 0
	for _, e := range history.Events {
		if e.From == warder.StatusPaused && e.To == warder.StatusRunning && strings.HasPrefix(e.Actor, "user:alice (") {
			resumed++
		}
	}
	if resumed != 6 {
		t.Fatalf("%d resumes on request in the history, want 6: %+v", resumed, history.Events)
	}
	// Another user sees nothing to pause or resume.
	bob := ts.register(t, "bob")
	bob.MustDo("POST", base+"/pause", nil, 404, nil)
	bob.MustDo("POST", base+"/resume", nil, 404, nil)
}

// TestReplicasResumeEachOthersPause: on one deployment of two replicas
// (PostgreSQL), an agent paused through one is resumed by a chat through
// the other.
func TestReplicasResumeEachOthersPause(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 2)
	alice := rs[0].register(t, "alice")
	a := alice.CreateAgent("shared")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("POST", "/api/agents/"+a.ID+"/pause", nil, 200, nil)
	other := on(alice, rs[1])
	var seen apitest.Agent
	other.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &seen)
	if seen.Status != warder.StatusPaused {
		t.Fatalf("the other replica sees %s", seen.Status)
	}
	other.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]string{"content": "wake up"}, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &seen)
	if seen.Status != warder.StatusRunning {
		t.Fatalf("after a chat through the other replica: %s", seen.Status)
	}
	if s, raw := other.Do("POST", "/api/agents/"+a.ID+"/resume", nil); s != 200 {
		t.Fatal(fmt.Sprintf("resume of a running agent = %d %s", s, raw))
	}
}
