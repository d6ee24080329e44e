package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
)

var (
	_ warder.WorkspaceRuntime = (*Runtime)(nil)
	_ warder.FileRuntime      = (*Runtime)(nil)
	_ warder.ExecRuntime      = (*Runtime)(nil)
)

// LabelHelper marks the short-lived helper containers the workspace
// operations run (value: the deployment's network), so they are never
// taken for agents.
const LabelHelper = "warder.helper"

// helperTimeout bounds one helper container's whole life.
const helperTimeout = 2 * time.Minute

// ensureVolume makes the workspace's volume if it does not exist yet
// (made reports that); an existing one (the agent's, from before) is
// kept as it is, its filesystem mounted if it has one. When workspaces
// are bounded (boundedws.go) a new volume binds a filesystem of the
// spec's size (else Config.WorkspaceBytes; neither: a plain volume); a
// plain volume made before keeps working, unbounded.
//
// A workspace that points at a warm pool container's volume
// (LabelWorkspaceVolume) is mounted as that volume: ws.Name is changed
// to it, so callers pass a copy.
func (r *Runtime) ensureVolume(ctx context.Context, ws *warder.WorkspaceSpec) (made bool, err error) {
	dir, err := r.boundedDir(ctx)
	if err != nil {
		return false, err
	}
	v, err := r.cli.VolumeInspect(ctx, ws.Name, client.VolumeInspectOptions{})
	if err == nil {
		if target := v.Volume.Labels[LabelWorkspaceVolume]; target != "" {
			ws.Name = target
		}
		if dir != nil && dir.Has(ws.Name) {
			// Mounted at Setup; again here should it have gone since.
			if err := dir.Mount(ws.Name); err != nil {
				return false, fmt.Errorf("mounting workspace %s: %w", ws.Name, err)
			}
		}
		return false, nil
	}
	if !cerrdefs.IsNotFound(err) {
		return false, mapErr(err, "inspect volume "+ws.Name)
	}
	size := ws.SizeBytes
	if size <= 0 {
		size = r.cfg.WorkspaceBytes
	}
	if dir != nil && size > 0 {
		return true, r.boundedVolume(ctx, dir, ws, size)
	}
	_, err = r.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: ws.Name, Driver: "local", Labels: ws.Labels})
	return true, mapErr(err, "create volume "+ws.Name)
}

// workspaceMount is the workspace as Docker mounts it: a named volume,
// never a host path. Nothing of the image is copied into it (see
// readyWorkspace for the one exception).
func workspaceMount(ws *warder.WorkspaceSpec) mount.Mount {
	return mount.Mount{Type: mount.TypeVolume, Source: ws.Name, Target: ws.MountPath,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}}
}

// LabelWorkspaceOwner on an image ("UID:GID") declares that its /data is
// an empty directory owned by UID:GID. The default agent image carries it.
// When the container runs as exactly that user (the image's own USER, not
// overridden), a fresh workspace is mounted with the engine's copy-up,
// which copies that empty directory's owner and mode onto the volume's
// root when the container is created: the volume is the agent's at once,
// and the create needs no ownWorkspace helper container (which cost a
// second container's create, start and removal on every agent's first
// start). An image derived with another USER no longer matches and gets
// the helper. An image that claims it falsely only gets a workspace its
// agent cannot write; nothing of another's is exposed.
const LabelWorkspaceOwner = "warder.workspace-owner"

// readyWorkspace switches req's workspace mount to copy-up when the
// workspace is fresh; the caller has checked that the image's
// LabelWorkspaceOwner is the user the container runs as. It reports
// whether it did.
func readyWorkspace(req *createRequest, p placement) bool {
	if !p.FreshWorkspace {
		return false
	}
	for i := range req.HostConfig.Mounts {
		m := &req.HostConfig.Mounts[i]
		if m.Target == warder.WorkspaceMountPath && m.Type == mount.TypeVolume && m.VolumeOptions != nil {
			m.VolumeOptions.NoCopy = false
			return true
		}
	}
	return false
}

// ownWorkspace gives a new workspace's root, which Docker makes root's,
// to the container's user, so an agent running as 65534 can write there.
// A helper does it as root with only CAP_CHOWN; for a user known only by
// name in the image, the root is made writable by all, sticky as /tmp
// (only the agent's own processes see the volume).
func (r *Runtime) ownWorkspace(ctx context.Context, id string, ws *warder.WorkspaceSpec) error {
	user, _, err := r.containerUser(ctx, id)
	if err != nil {
		return err
	}
	if user == "" {
		user = "-"
	}
	out, code, err := r.runHelper(ctx, helper{volume: ws.Name, user: "0:0", capAdd: []string{"CHOWN"}, cmd: []string{"own", warder.WorkspaceMountPath, user}})
	if err == nil && code != 0 {
		err = fmt.Errorf("preparing workspace %s: exit %d: %s", ws.Name, code, clipOut(out))
	}
	return err
}

// Workspaces lists the volumes labelled as this deployment's workspaces.
func (r *Runtime) Workspaces(ctx context.Context) ([]*warder.Workspace, error) {
	res, err := r.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", warder.LabelWorkspace+"="+r.cfg.Network)})
	if err != nil {
		return nil, mapErr(err, "list volumes")
	}
	out := make([]*warder.Workspace, 0, len(res.Items))
	for _, v := range res.Items {
		created, _ := time.Parse(time.RFC3339, v.CreatedAt)
		out = append(out, &warder.Workspace{Name: v.Name, AgentID: v.Labels[warder.LabelAgentID], UserID: v.Labels[warder.LabelUserID],
			CreatedAt: created.UTC(), SizeBytes: -1})
	}
	return out, nil
}

// RemoveWorkspace deletes the volume, then its filesystem if it has one
// (unmounted, its loop device detached, its image deleted); gone is
// success, in use a conflict. A workspace pointing at a pool volume goes
// with that volume.
func (r *Runtime) RemoveWorkspace(ctx context.Context, name string) error {
	target, err := r.workspaceVolume(ctx, name)
	switch {
	case errors.Is(err, warder.ErrNotFound):
		return r.removeVolume(ctx, name) // an image left by a cut-short create
	case err != nil:
		return err
	case target != name:
		if err := r.removeVolume(ctx, target); err != nil {
			return err
		}
	}
	return r.removeVolume(ctx, name)
}

// removeVolume deletes one volume and its filesystem, if any; gone is
// success, in use a conflict.
func (r *Runtime) removeVolume(ctx context.Context, name string) error {
	// The files helpers on the volume (fshelper.go) hold it: they go first.
	if err := r.removeFilesHelpers(ctx, name); err != nil {
		return err
	}
	dir, err := r.filesystemOf(ctx, name)
	if err != nil {
		return err
	}
	_, err = r.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	if cerrdefs.IsConflict(err) {
		// A files call that raced this removal may have started a helper
		// on the volume since: remove it too, once.
		if herr := r.removeFilesHelpers(ctx, name); herr != nil {
			return herr
		}
		_, err = r.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	}
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return r.dropImage(dir, name)
	case cerrdefs.IsConflict(err):
		return warder.Errorf(warder.ErrConflict, "workspace %s is still in use by a container", name)
	}
	return mapErr(err, "remove volume "+name)
}

// WorkspaceUsage reads a bounded workspace's usage from its filesystem
// (one statfs: no helper, no engine call). A plain volume is measured
// by du in a helper container, which runs as root with only
// CAP_DAC_READ_SEARCH, so it sees files the agent made private, and can
// change nothing.
func (r *Runtime) WorkspaceUsage(ctx context.Context, name string) (int64, error) {
	if n, ok, err := r.boundedUsage(ctx, name, nil); ok || err != nil {
		return n, err
	}
	volume, err := r.workspaceVolume(ctx, name)
	if err != nil {
		return 0, err
	}
	opts, err := r.volumeOptions(ctx, volume)
	if err != nil {
		return 0, err
	}
	if n, ok, err := r.boundedUsage(ctx, volume, opts); ok || err != nil {
		return n, err
	}
	out, code, err := r.runHelper(ctx, helper{volume: volume, user: "0:0", capAdd: []string{"DAC_READ_SEARCH"}, cmd: []string{"du", warder.WorkspaceMountPath}})
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if code != 0 || perr != nil {
		return 0, fmt.Errorf("measuring workspace %s: exit %d: %s", name, code, clipOut(out))
	}
	return n, nil
}

// helper is one run of the workspace helper: the default image's
// warder-agent running a built-in, with no network, a read-only root,
// no capabilities but capAdd, and the workspace volume (if any) at
// WorkspaceMountPath; pidOf shares an agent container's processes.
type helper struct {
	volume string
	user   string
	capAdd []string
	pidOf  string
	cmd    []string
}

// runHelper runs h to its end and returns its output (stdout and stderr)
// and exit code. The helper removes itself when it exits (AutoRemove),
// so it is gone even if Warder loses the engine or stops meanwhile; its
// output is read through an attach made before it starts. One that was
// made but never ran is removed here, and SweepHelpers removes any left.
func (r *Runtime) runHelper(ctx context.Context, h helper) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	// Podman refuses to attach to a container not started yet: there the
	// helper is kept once it exits, its output read from its log, and it
	// is removed here.
	podman, err := r.isPodman(ctx)
	if err != nil {
		return "", 0, err
	}
	pids := int64(32)
	host := &container.HostConfig{
		AutoRemove:     !podman,
		NetworkMode:    "none",
		CapDrop:        []string{"ALL"},
		CapAdd:         h.capAdd,
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Resources:      container.Resources{Memory: 64 << 20, MemorySwap: 64 << 20, PidsLimit: &pids},
	}
	if h.volume != "" {
		host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: h.volume, Target: warder.WorkspaceMountPath, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}
	}
	if h.pidOf != "" {
		host.PidMode = container.PidMode("container:" + h.pidOf)
	}
	if podman {
		host.Ulimits = podmanUlimits() // as for agents: see podmanUlimits
	}
	name := HelperPrefix + randomHex(8)
	started := false
	defer func() {
		if started && !podman {
			return // it removes itself
		}
		// Made, perhaps, but never run: a create or start the engine did
		// though the answer was lost; or, on Podman, done. Not found is
		// success.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer rcancel()
		if err := r.removeContainer(rctx, name); err != nil {
			r.log.Error("removing a workspace helper", "container", name, "err", err)
		}
	}()
	res, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     &container.Config{Image: r.cfg.DefaultImage, Cmd: h.cmd, User: h.user, Labels: map[string]string{LabelHelper: r.cfg.Network}, AttachStdout: true, AttachStderr: true},
		HostConfig: host,
	})
	if err != nil {
		return "", 0, mapErr(err, "create workspace helper")
	}
	var out bytes.Buffer
	lim := &limitedWriter{w: &out, n: 64 << 10}
	if podman {
		if _, err := r.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			return "", 0, mapErr(err, "start workspace helper")
		}
		started = true
		wait := r.cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		var code int
		select {
		case w := <-wait.Result:
			code = int(w.StatusCode)
		case err := <-wait.Error:
			return "", 0, mapErr(err, "wait for workspace helper")
		}
		logs, err := r.cli.ContainerLogs(ctx, res.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			return "", 0, mapErr(err, "read the workspace helper's output")
		}
		defer logs.Close()
		stdcopy.StdCopy(lim, lim, logs)
		return out.String(), code, nil
	}
	att, err := r.cli.ContainerAttach(ctx, res.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return "", 0, mapErr(err, "attach to workspace helper")
	}
	defer att.Close()
	wait := r.cli.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := r.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return "", 0, mapErr(err, "start workspace helper")
	}
	started = true
	stdcopy.StdCopy(lim, lim, att.Reader) // to the helper's exit
	select {
	case w := <-wait.Result:
		if w.Error != nil && w.Error.Message != "" {
			return out.String(), 0, fmt.Errorf("workspace helper: %s", w.Error.Message)
		}
		return out.String(), int(w.StatusCode), nil
	case err := <-wait.Error:
		return out.String(), 0, mapErr(err, "wait for workspace helper")
	}
}

// RemoveWorkspaces removes every helper container and every workspace
// of this deployment (its network's), each by its id or exact name: for
// a deployment being taken down, a test's, once its agents' containers
// are gone.
func (r *Runtime) RemoveWorkspaces(ctx context.Context) error {
	if err := r.RemoveHelpers(ctx); err != nil {
		return err
	}
	list, err := r.Workspaces(ctx)
	if err != nil {
		return err
	}
	for _, w := range list {
		if err := r.RemoveWorkspace(ctx, w.Name); err != nil {
			return err
		}
	}
	return nil
}

// RemoveHelpers removes every helper container of this deployment,
// running or not, by id: for a deployment being taken down (a test's).
func (r *Runtime) RemoveHelpers(ctx context.Context) error {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelHelper+"="+r.cfg.Network)})
	if err != nil {
		return mapErr(err, "list workspace helpers")
	}
	for _, c := range res.Items {
		if err := r.removeContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// HelperPrefix starts the name of every workspace helper container.
const HelperPrefix = "warder-helper-"

// SweepHelpers removes this deployment's helper containers that are not
// running and were made over a minute ago (younger ones may be starting):
// ones whose start, or whose removal, was lost with the engine. Setup
// calls it.
func (r *Runtime) SweepHelpers(ctx context.Context) error {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelHelper+"="+r.cfg.Network)})
	if err != nil {
		return mapErr(err, "list workspace helpers")
	}
	for _, c := range res.Items {
		if c.State == container.StateRunning || time.Since(time.Unix(c.Created, 0)) < time.Minute {
			continue
		}
		if err := r.removeContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// limitedWriter keeps the first n bytes and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

func clipOut(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// numericIDs reads a "uid[:gid]" user; a name is not numeric.
func numericIDs(user string) (uid, gid int, ok bool) {
	u, g, hasG := strings.Cut(user, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		return 0, 0, false
	}
	if hasG {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, false
		}
	}
	return uid, gid, true
}

// containerUser is the user the container's process runs as, and a user
// a helper can take on to act as it: the configured uid[:gid] when it is
// numeric; a name only the image's /etc/passwd knows gives "".
func (r *Runtime) containerUser(ctx context.Context, id string) (string, string, error) {
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", "", mapErr(err, "inspect container "+id)
	}
	c := res.Container
	vol := ""
	for _, m := range c.Mounts {
		if m.Destination == warder.WorkspaceMountPath && m.Type == mount.TypeVolume {
			vol = m.Name
		}
	}
	user := ""
	if c.Config != nil {
		user = c.Config.User
	}
	if user == "" {
		user = "0" // the image runs as root, which the operator allowed
	}
	if _, _, ok := numericIDs(user); !ok {
		return "", vol, nil
	}
	return user, vol, nil
}
