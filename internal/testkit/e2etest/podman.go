package e2etest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// podmanShared is the test agent image in the private Podman service
// (testenv.Podman), built there once per test binary and removed by Main.
var podmanShared struct {
	once    sync.Once
	err     error
	image   string
	builder *docker.Runtime
}

// PodmanAgentImage returns the Podman service's address and the test
// agent image built into it through its Docker-compatible API (nothing
// can be pulled), with the binary in it.
func PodmanAgentImage(tb testing.TB) (host, image, binary string) {
	tb.Helper()
	host = testenv.Podman(tb)
	_, binary = AgentImage(tb)
	podmanShared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if podmanShared.builder, podmanShared.err = docker.New(docker.Config{Host: host}); podmanShared.err != nil {
			return
		}
		tag := testenv.UniqueName("warder-test/agent:p")
		if podmanShared.err = podmanShared.builder.BuildAgentImage(ctx, tag, binary); podmanShared.err == nil {
			podmanShared.image = tag
		}
	})
	if podmanShared.err != nil {
		tb.Fatalf("building the test agent image in Podman: %v", podmanShared.err)
	}
	return host, podmanShared.image, binary
}

// NewPodmanServer is NewServer on the private Podman service instead of
// Docker: Warder pointed at Podman's socket as DOCKER_HOST would point it.
func NewPodmanServer(tb testing.TB, change func(*app.Config)) *apitest.Server {
	tb.Helper()
	host, image, _ := PodmanAgentImage(tb)
	return NewServer(tb, func(c *app.Config) {
		c.DockerHost, c.Image = host, image
		if change != nil {
			change(c)
		}
	})
}

// stopPodman removes the Podman test image and stops the service, even
// when the image cannot be removed (a container a failed test left uses
// it: StopPodman removes that and reports it).
func stopPodman() error {
	var err error
	if podmanShared.image != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = podmanShared.builder.RemoveImage(ctx, podmanShared.image)
	}
	return errors.Join(err, testenv.StopPodman())
}
