package docker

import (
	"context"
	"errors"
	"maps"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

// LabelWorkspaceVolume, on an agent's workspace volume, names the volume
// that really holds its files: a warm pool container's own, which its
// agent kept (a mount cannot be added to a running container). The
// agent's volume of its usual name (WorkspaceName) is then only a
// pointer with the agent's labels, so listing, measuring, mounting and
// removing the workspace by that name reach the pool's volume.
const LabelWorkspaceVolume = "warder.workspace.volume"

// aliasWorkspace makes ws's name point at the pool volume.
func (r *Runtime) aliasWorkspace(ctx context.Context, ws *warder.WorkspaceSpec, volume string) error {
	labels := maps.Clone(ws.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelWorkspaceVolume] = volume
	_, err := r.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: ws.Name, Driver: "local", Labels: labels})
	return mapErr(err, "create volume "+ws.Name)
}

// workspaceVolume is the volume that holds workspace name's files: name
// itself, or the pool volume it points at.
func (r *Runtime) workspaceVolume(ctx context.Context, name string) (string, error) {
	v, err := r.cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return "", mapErr(err, "inspect volume "+name)
	}
	if target := v.Volume.Labels[LabelWorkspaceVolume]; target != "" {
		return target, nil
	}
	return name, nil
}

// volumeOptions are volume name's driver options (a bounded workspace's
// bind: boundedws.go).
func (r *Runtime) volumeOptions(ctx context.Context, name string) (map[string]string, error) {
	v, err := r.cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return nil, mapErr(err, "inspect volume "+name)
	}
	return v.Volume.Options, nil
}

// removePoolVolume removes a pool volume, and its filesystem if it has
// one (boundedws.go); gone is success, in use (or named by an alias made
// since) a conflict.
func (r *Runtime) removePoolVolume(ctx context.Context, name string) error {
	dir, err := r.filesystemOf(ctx, name)
	if err != nil {
		return err
	}
	_, err = r.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	switch {
	case err == nil, isNotFound(err):
		return r.dropImage(dir, name)
	case isConflict(err):
		return warder.Errorf(warder.ErrConflict, "volume %s is in use", name)
	}
	return mapErr(err, "remove volume "+name)
}

// sweepPoolVolumes removes pool volumes no container uses and no
// workspace points at: a claimed container's, once its agent started
// cold without it, or one whose container a kill left unremoved.
func (r *Runtime) sweepPoolVolumes(ctx context.Context) error {
	pooled, err := r.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", warder.LabelPool+"="+r.cfg.Network)})
	if err != nil {
		return mapErr(err, "list pool volumes")
	}
	if len(pooled.Items) == 0 {
		return nil
	}
	aliases, err := r.cli.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", LabelWorkspaceVolume)})
	if err != nil {
		return mapErr(err, "list workspace volumes")
	}
	kept := map[string]bool{}
	for _, v := range aliases.Items {
		kept[v.Labels[LabelWorkspaceVolume]] = true
	}
	for _, v := range pooled.Items {
		if kept[v.Name] {
			continue
		}
		if err := r.removePoolVolume(ctx, v.Name); err != nil && !errors.Is(err, warder.ErrConflict) {
			return err
		}
	}
	return nil
}
