package testenv

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestDockerSocket(t *testing.T) {
	for host, want := range map[string]string{
		"":                          "/var/run/docker.sock",
		"unix:///run/user/1/d.sock": "/run/user/1/d.sock",
	} {
		if got, err := dockerSocket(host); err != nil || got != want {
			t.Errorf("dockerSocket(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
	for _, host := range []string{"tcp://127.0.0.1:2375", "ssh://me@host", "unix://"} {
		if got, err := dockerSocket(host); err == nil {
			t.Errorf("dockerSocket(%q) = %q, want an error", host, got)
		}
	}
}

// TestDockerProxy: requests pass through; Cut breaks an open stream and
// refuses new connections at once; Restore brings the proxy back.
func TestDockerProxy(t *testing.T) {
	p := DockerProxy(t)
	cli, err := client.New(client.WithHost(p.Host()), client.WithAPIVersionFromEnv())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := cli.Ping(ctx, client.PingOptions{})
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}

	// An open event stream, by hand, to see it end when the proxy is cut.
	conn, err := net.Dial("unix", strings.TrimPrefix(p.Host(), "unix://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /events HTTP/1.1\r\nHost: docker\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events through the proxy: %v, %v", resp, err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 1))
		ended <- err
	}()

	start := time.Now()
	p.Cut()
	select {
	case err := <-ended:
		t.Logf("open stream ended %v after Cut: %v", time.Since(start), err)
	case <-time.After(2 * time.Second):
		t.Fatal("an open stream outlived Cut by 2 s")
	}
	start = time.Now()
	if err := ping(); err == nil {
		t.Fatal("ping succeeded through a cut proxy")
	} else if !client.IsErrConnectionFailed(err) {
		t.Errorf("ping through a cut proxy: %v, want a connection failure", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ping through a cut proxy took %v to fail, want it at once", d)
	}
	p.Cut() // cutting twice is harmless

	p.Restore()
	p.Restore() // and so is restoring twice
	if err := ping(); err != nil {
		t.Fatalf("ping after Restore: %v", err)
	}
}
