package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPooledWaitsForClaim: a pooled agent binds its port and answers 503
// with nothing logged until its claim arrives on stdin; then it is the
// claimed agent, with the claim's variables in its own environment.
func TestPooledWaitsForClaim(t *testing.T) {
	port := freePort(t)
	var logs syncBuffer
	stdinR, stdinW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- servePooled(ctx, log.New(&logs, "", 0), map[string]string{"PORT": port, envPooled: "1"}, stdinR)
	}()
	t.Cleanup(func() { os.Unsetenv("POOLED_TEST_SECRET") })

	url := "http://127.0.0.1:" + port + "/health"
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("unclaimed /health: %d, want 503", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("port never bound: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if logs.String() != "" {
		t.Fatalf("an unclaimed agent wrote %q", logs.String())
	}
	line := `{"env":{"AGENT_ID":"a1","AGENT_NAME":"pooled","AGENT_TYPE":"t","PORT":"` + port + `","POOLED_TEST_SECRET":"s3cret"}}` + "\n"
	if _, err := stdinW.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	stdinW.Close()
	for health(port) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("claimed agent never healthy; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := os.Getenv("POOLED_TEST_SECRET"); got != "s3cret" {
		t.Fatalf("claimed env not applied: %q", got)
	}
	out := logs.String()
	if !strings.HasPrefix(out, "warder-agent starting agent_id=a1 agent_name=pooled") || strings.Contains(out, "s3cret") {
		t.Fatalf("logs after claim: %q", out)
	}
	if strings.Contains(out, envPooled) {
		t.Fatalf("the pool's own variable is listed: %q", out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPooledRefusesBadClaims: a claim that is not JSON, that moves the
// port, or that never comes (stdin closed) ends the agent with an error,
// so its pool replaces it.
func TestPooledRefusesBadClaims(t *testing.T) {
	for name, in := range map[string]string{
		"not json":   "hello\n",
		"other port": `{"env":{"PORT":"1"}}` + "\n",
		"no claim":   "",
	} {
		t.Run(name, func(t *testing.T) {
			err := servePooled(context.Background(), log.New(io.Discard, "", 0), map[string]string{"PORT": freePort(t)}, strings.NewReader(in))
			if err == nil {
				t.Fatal("want an error")
			}
		})
	}
}
