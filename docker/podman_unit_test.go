package docker

import (
	"errors"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// TestPodmanCause: Podman's 500s are read by the cause that ends their
// message, and nothing else is: not a 500 with another cause, not the
// same words under another status.
func TestPodmanCause(t *testing.T) {
	tests := []struct {
		name               string
		err                error
		notFound, conflict bool
	}{
		{"name in use", cerrdefs.ErrInternal.WithMessage(`creating container storage: the container name "x" is already in use by abc. You have to remove that container to be able to reuse that name: that name is already in use`), false, true},
		{"network exists", cerrdefs.ErrInternal.WithMessage("network name x already used: network already exists"), false, true},
		{"network gone", cerrdefs.ErrInternal.WithMessage("unable to find network with name or ID x: network not found"), true, false},
		{"container gone", cerrdefs.ErrInternal.WithMessage(`no container with name or ID "x" found: no such container`), true, false},
		{"Docker's 404", cerrdefs.ErrNotFound.WithMessage("No such container: x"), true, false},
		{"Docker's 409", cerrdefs.ErrConflict.WithMessage("Conflict. The container name is in use"), false, true},
		{"other 500", cerrdefs.ErrInternal.WithMessage("crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted"), false, false},
		{"cause not at the end", cerrdefs.ErrInternal.WithMessage("no such container: but something else"), false, false},
		{"not a 500", cerrdefs.ErrInvalidArgument.WithMessage("x: no such container"), false, false},
		{"plain error", errors.New("x: network not found"), false, false},
	}
	for _, tt := range tests {
		if got := isNotFound(tt.err); got != tt.notFound {
			t.Errorf("%s: isNotFound = %v", tt.name, got)
		}
		if got := isConflict(tt.err); got != tt.conflict {
			t.Errorf("%s: isConflict = %v", tt.name, got)
		}
	}
}

func TestIsPodmanVersion(t *testing.T) {
	podman := client.ServerVersionResult{Components: []system.ComponentVersion{{Name: "Podman Engine", Version: "4.3.1"}, {Name: "Conmon"}}}
	docker := client.ServerVersionResult{Components: []system.ComponentVersion{{Name: "Engine", Version: "20.10.24"}, {Name: "containerd"}}}
	if !isPodmanVersion(podman) || isPodmanVersion(docker) || isPodmanVersion(client.ServerVersionResult{}) {
		t.Error("isPodmanVersion tells Podman from Docker wrongly")
	}
}
