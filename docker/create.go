package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// Create makes the container for spec without starting it: on the
// deployment's network (its internal one for spec.Internal), with its
// port published on a host port claimed for the agent when spec.Publish
// and the runtime has a port range. A missing DefaultImage is built by
// Setup, any other missing image is pulled (which fails fast or within
// pullTimeout when no registry is reachable), and the create is retried
// once. A leftover container of the same name, from a create interrupted
// before its id was saved, is replaced. On Podman the container is also
// given explicit open-files and process limits (podmanUlimits), the
// tmpfs Podman adds on /run and /var/tmp gets /tmp's options, and the
// container joins an isolated network of its own (ensureAgentNetwork).
func (r *Runtime) Create(ctx context.Context, spec warder.WorkloadSpec) (string, error) {
	p := placement{Network: r.cfg.Network, HostIP: r.cfg.BindAddress}
	podman, err := r.isPodman(ctx)
	if err != nil {
		return "", err
	}
	if podman {
		p.Ulimits, p.ScratchDirs = podmanUlimits(), podmanScratchDirs
	}
	if spec.Internal {
		p.Network = InternalNetwork(r.cfg.Network)
	}
	if podman && p.Network != "" {
		// Alone on a network of its own: Podman cannot keep the agents
		// of one network apart (agentnet.go).
		if p.Network, err = r.ensureAgentNetwork(ctx, spec.Name, spec.Internal); err != nil {
			return "", err
		}
	}
	if r.ports != nil && spec.AgentID != "" {
		if spec.Publish && !spec.Internal {
			port, err := r.ports.Claim(ctx, spec.AgentID)
			if err != nil {
				return "", err
			}
			p.HostPort = port
		} else if err := r.ports.Release(ctx, spec.AgentID, 0); err != nil {
			return "", err
		}
	}
	made := false
	if spec.Workspace != nil {
		ws := *spec.Workspace // ensureVolume may name another volume
		spec.Workspace = &ws
		var err error
		if made, err = r.ensureVolume(ctx, spec.Workspace); err != nil {
			return "", err
		}
	}
	p.FreshWorkspace = made
	id, ready, err := r.createPlaced(ctx, spec, p)
	if err == nil && made && !ready {
		if err = r.ownWorkspace(ctx, id, spec.Workspace); err != nil {
			if rerr := r.removeContainer(context.WithoutCancel(ctx), id); rerr != nil {
				r.log.Error("removing a container whose workspace could not be prepared", "container", id, "err", rerr)
			} else if rerr := r.RemoveWorkspace(context.WithoutCancel(ctx), spec.Workspace.Name); rerr != nil {
				// Still new and empty; the next create prepares it again.
				r.log.Error("removing a workspace that could not be prepared", "volume", spec.Workspace.Name, "err", rerr)
			}
			id = ""
		}
	}
	if err != nil && p.HostPort != 0 {
		// A failed create holds no port.
		if rerr := r.ports.Release(context.WithoutCancel(ctx), spec.AgentID, p.HostPort); rerr != nil {
			r.log.Error("releasing the port of a failed create", "agent", spec.AgentID, "err", rerr)
		}
	}
	return id, err
}

// createPlaced creates the container; ready reports that its fresh
// workspace already belongs to its user (readyWorkspace), so the caller
// skips ownWorkspace.
func (r *Runtime) createPlaced(ctx context.Context, spec warder.WorkloadSpec, p placement) (id string, ready bool, err error) {
	req, err := containerConfig(spec, p)
	if err == nil {
		req.HostConfig.Runtime, err = r.engineRuntime(spec.Isolation) // gvisor.go
	}
	if err != nil {
		return "", false, err
	}
	id, ready, err = r.create(ctx, spec, p, req)
	if isConflict(err) {
		// A leftover of an interrupted create: its id was never saved.
		if err := r.removeContainer(ctx, spec.Name); err != nil {
			return "", false, err
		}
		id, ready, err = r.create(ctx, spec, p, req)
	}
	if isNotFound(err) {
		// 404: the image is missing, or the network (engines newer than
		// API 1.41; those older notice only at start, see Start).
		if perr := r.provide(ctx, spec); perr != nil {
			return "", false, perr
		}
		id, ready, err = r.create(ctx, spec, p, req)
	}
	switch {
	case err == nil:
		return id, ready, nil
	case isConflict(err):
		return "", false, warder.Errorf(warder.ErrConflict, "a container named %q already exists", spec.Name)
	case isNotFound(err):
		// Still missing after provide: not a "no such agent" for the caller.
		return "", false, fmt.Errorf("create container %s: %w", spec.Name, err)
	default:
		return "", false, mapErr(err, "create container "+spec.Name)
	}
}

// create makes the container of req. req is a copy, so what one try
// changes in it (the user, the workspace mount) does not carry over.
func (r *Runtime) create(ctx context.Context, spec warder.WorkloadSpec, p placement, req createRequest) (string, bool, error) {
	ready := false
	if !spec.AllowRoot {
		img, err := r.cli.ImageInspect(ctx, spec.Image)
		if err != nil {
			return "", false, err // a missing image is provided by the caller
		}
		overridden := img.Config == nil || runsAsRoot(img.Config.User)
		if overridden {
			req.Config.User = warder.NonRootUser
		}
		host := *req.HostConfig
		host.Mounts = cloneMounts(host.Mounts)
		req.HostConfig = &host
		owner := img.Config.Labels[LabelWorkspaceOwner]
		ready = !overridden && owner != "" && owner == img.Config.User && readyWorkspace(&req, p)
	}
	res, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             spec.Name,
		Config:           req.Config,
		HostConfig:       req.HostConfig,
		NetworkingConfig: req.Networking,
	})
	return res.ID, ready && err == nil, err
}

// cloneMounts copies mounts deeply enough for readyWorkspace to change
// one's volume options.
func cloneMounts(ms []mount.Mount) []mount.Mount {
	out := slices.Clone(ms)
	for i := range out {
		if o := out[i].VolumeOptions; o != nil {
			c := *o
			out[i].VolumeOptions = &c
		}
	}
	return out
}

// provide makes what a failed create found missing: the image (built or
// pulled) or, if the image is there, the network Setup owns.
func (r *Runtime) provide(ctx context.Context, spec warder.WorkloadSpec) error {
	_, err := r.cli.ImageInspect(ctx, spec.Image)
	switch {
	case err == nil && r.cfg.Network != "":
		return r.Setup(ctx)
	case err == nil:
		return nil // nothing we can provide; the retry reports the error
	case !isNotFound(err):
		return mapErr(err, "inspect image "+spec.Image)
	case spec.Image == r.cfg.DefaultImage:
		return r.Setup(ctx)
	default:
		return r.pull(ctx, spec.Image)
	}
}

// runsAsRoot reports whether an image's USER makes its process root: none
// given, or root by name or by id, whatever the group.
func runsAsRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "" || name == "root" || name == "0"
}
