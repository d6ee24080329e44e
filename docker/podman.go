package docker

import (
	"context"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Podman's Docker-compatible API (podman system service) is close enough
// to Docker's for this runtime, with the differences handled here and
// listed in docs/podman.md. The runtime finds out which engine it talks
// to from the engine's version answer, once it has one.

// podmanComponent is the name Podman gives itself in GET /version.
const podmanComponent = "Podman Engine"

// engineKind remembers which engine is behind the socket. It is asked
// lazily and only a successful answer is kept, so a runtime made while
// the engine is down still finds out later.
type engineKind struct {
	mu     sync.Mutex
	known  bool
	podman bool
}

// isPodman reports whether the engine is Podman, asking it the first time.
func (r *Runtime) isPodman(ctx context.Context) (bool, error) {
	r.engine.mu.Lock()
	defer r.engine.mu.Unlock()
	if r.engine.known {
		return r.engine.podman, nil
	}
	v, err := r.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return false, mapErr(err, "ask the engine's version")
	}
	r.engine.known, r.engine.podman = true, isPodmanVersion(v)
	return r.engine.podman, nil
}

// isPodmanVersion reads GET /version: Podman lists itself as a component.
func isPodmanVersion(v client.ServerVersionResult) bool {
	for _, c := range v.Components {
		if c.Name == podmanComponent {
			return true
		}
	}
	return false
}

// The open-files and process limits every agent gets on Podman. Podman
// otherwise asks the OCI runtime for its own defaults (1048576 open
// files, 4194304 processes), which fail every start where the engine
// lacks CAP_SYS_RESOURCE and its own hard limits are lower; explicit
// limits in the create request replace both defaults. The values are
// well above what an agent needs (the pids limit bounds its processes
// anyway) and below common hard limits. Docker is left to its own
// defaults, as before.
const (
	podmanNofile = 16384
	podmanNproc  = 32768
)

// podmanUlimits are the explicit limits Create sets on Podman.
func podmanUlimits() []*container.Ulimit {
	return []*container.Ulimit{
		{Name: "nofile", Soft: podmanNofile, Hard: podmanNofile},
		{Name: "nproc", Soft: podmanNproc, Hard: podmanNproc},
	}
}

// podmanCauses are the endings of Podman's messages for the conditions
// Docker answers with a 404 or 409 but Podman 4.3 answers, on some
// endpoints, with a 500. Podman ends each message with the cause (its
// "cause" field), so a suffix names it exactly. This is the one place
// that reads an engine's error text: the status code says nothing here.
var podmanCauses = []struct {
	suffix   string
	notFound bool // else a conflict
}{
	{": no such container", true},
	{": network not found", true},
	{": no such network", true},
	{": no such image", true},
	{": network already exists", false},
	{": that name is already in use", false},
	{": container already exists", false},
	{": name is in use", false},
}

// podmanCause classifies a 500 whose message ends with one of
// podmanCauses; found is false for any other error, Docker's included.
func podmanCause(err error) (notFound, found bool) {
	if err == nil || !cerrdefs.IsInternal(err) {
		return false, false
	}
	msg := strings.TrimSpace(err.Error())
	for _, c := range podmanCauses {
		if strings.HasSuffix(msg, c.suffix) {
			return c.notFound, true
		}
	}
	return false, false
}

// isNotFound is cerrdefs.IsNotFound, and Podman's 500s that mean it.
func isNotFound(err error) bool {
	if cerrdefs.IsNotFound(err) {
		return true
	}
	nf, ok := podmanCause(err)
	return ok && nf
}

// isConflict is cerrdefs.IsConflict, and Podman's 500s that mean it.
func isConflict(err error) bool {
	if cerrdefs.IsConflict(err) {
		return true
	}
	nf, ok := podmanCause(err)
	return ok && !nf
}
