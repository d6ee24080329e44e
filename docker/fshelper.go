package docker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/fsop"
)

// A workspace's files are read and written by `warder-agent fsop` (see
// cmd/warder-agent/fsop.go), run by exec in a files helper: a container
// of the default image that mounts only that workspace's volume, as the
// agent's user, with no network, no capabilities, a read-only root and
// no-new-privileges. The engine's archive API is not used: it resolves
// an upload's names in the agent's whole filesystem and follows links
// the agent made below the top level, so an upload could land anywhere
// in the agent's root. In the helper, fsop opens every path element with
// O_NOFOLLOW from the workspace root's descriptor, and even a link it
// did not see could lead only into the helper's own read-only root.
//
// One helper per workspace and user serves every call for a few minutes
// (it runs `sleep`, then ends and removes itself), so browsing files
// costs an exec (tens of milliseconds), not a container start. It holds
// no port and needs no container of the agent's: the files of an agent
// that was never started are reached the same way.
const (
	// fsHelperLife is how long a files helper runs; one older than
	// fsHelperReuse is replaced rather than given a call that might
	// outlast it.
	fsHelperLife  = 5 * time.Minute
	fsHelperReuse = 4 * time.Minute
	// labelHelperVolume names the volume a files helper mounts, so the
	// workspace's removal finds it.
	labelHelperVolume = "warder.helper.volume"
	// listBytes bounds a directory listing's JSON; statBytes a stat's.
	listBytes = 8 << 20
	statBytes = 64 << 10
	agentPath = "/warder-agent"
)

// fsHelpers remembers the running files helpers of this process, so a
// call finds its helper without asking the engine.
type fsHelpers struct {
	mu     sync.Mutex
	byName map[string]*fsHelper
}

// fsHelper is one files helper: its turn-taking lock (one create at a
// time), its id and when it started.
type fsHelper struct {
	mu      sync.Mutex
	id      string
	started time.Time
}

func (h *fsHelpers) get(name string) *fsHelper {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byName == nil {
		h.byName = map[string]*fsHelper{}
	}
	e := h.byName[name]
	if e == nil {
		e = &fsHelper{}
		h.byName[name] = e
	}
	return e
}

func (h *fsHelpers) forget(name string) {
	h.mu.Lock()
	delete(h.byName, name)
	h.mu.Unlock()
}

// fsTarget is what a files call on container id reaches: the volume at
// its /data and the user the helper runs as ("" for a user only the
// agent's image can name: fsop then takes on the workspace root's owner).
func (r *Runtime) fsTarget(ctx context.Context, id string) (volume, user string, err error) {
	user, volume, err = r.containerUser(ctx, id)
	if err != nil {
		return "", "", err
	}
	if volume == "" {
		return "", "", warder.Errorf(warder.ErrConflict, "the agent's container has no workspace: delete it and start the agent again (agents made before workspaces existed)")
	}
	return volume, user, nil
}

// fsHelperName is the helper's container name for volume and user.
func fsHelperName(volume, user string) string {
	sum := sha256.Sum256([]byte(volume + "\x00" + user))
	return HelperPrefix + "fs-" + hex.EncodeToString(sum[:10])
}

// filesHelper returns the id of a running files helper for volume and
// user, starting one if there is none young enough.
func (r *Runtime) filesHelper(ctx context.Context, volume, user string) (string, error) {
	name := fsHelperName(volume, user)
	e := r.fsHelpers.get(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.id != "" && time.Since(e.started) < fsHelperReuse {
		return e.id, nil
	}
	e.id = ""
	// Another process's, or one this process lost track of.
	if res, err := r.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err == nil {
		c := res.Container
		started, _ := time.Parse(time.RFC3339Nano, c.State.StartedAt)
		if c.State.Running && time.Since(started) < fsHelperReuse {
			e.id, e.started = c.ID, started
			return e.id, nil
		}
		if err := r.removeContainer(ctx, c.ID); err != nil {
			return "", err
		}
	} else if !isNotFound(err) {
		return "", mapErr(err, "inspect files helper")
	}
	id, err := r.startFilesHelper(ctx, name, volume, user)
	if isConflict(err) {
		// Made meanwhile by another process: take it.
		res, ierr := r.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if ierr == nil && res.Container.State.Running {
			id, err = res.Container.ID, nil
		}
	}
	if err != nil {
		return "", err
	}
	e.id, e.started = id, time.Now()
	return id, nil
}

// startFilesHelper makes and starts the helper; one that was made but
// would not start is removed.
func (r *Runtime) startFilesHelper(ctx context.Context, name, volume, user string) (string, error) {
	podman, err := r.isPodman(ctx)
	if err != nil {
		return "", err
	}
	pids := int64(32)
	host := &container.HostConfig{
		AutoRemove:     true,
		NetworkMode:    "none",
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Resources:      container.Resources{Memory: 64 << 20, MemorySwap: 64 << 20, PidsLimit: &pids},
		Mounts:         []mount.Mount{{Type: mount.TypeVolume, Source: volume, Target: warder.WorkspaceMountPath, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
	}
	runAs := user
	if user == "" {
		// fsop -as-owner takes on the workspace root's owner at once.
		runAs, host.CapAdd = "0:0", []string{"SETUID", "SETGID"}
	}
	if podman {
		host.Ulimits = podmanUlimits()
	}
	secs := fmt.Sprint(int(fsHelperLife / time.Second))
	res, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: r.cfg.DefaultImage, Cmd: []string{"sleep", secs}, User: runAs,
			Labels: map[string]string{LabelHelper: r.cfg.Network, labelHelperVolume: volume}},
		HostConfig: host,
	})
	if isNotFound(err) {
		// The default image is gone: Setup builds it again.
		if serr := r.Setup(ctx); serr != nil {
			return "", serr
		}
		res, err = r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
			Config: &container.Config{Image: r.cfg.DefaultImage, Cmd: []string{"sleep", secs}, User: runAs,
				Labels: map[string]string{LabelHelper: r.cfg.Network, labelHelperVolume: volume}},
			HostConfig: host})
	}
	if err != nil {
		if isConflict(err) {
			return "", err
		}
		return "", mapErr(err, "create files helper")
	}
	if _, err := r.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		if rerr := r.removeContainer(context.WithoutCancel(ctx), res.ID); rerr != nil {
			r.log.Error("removing a files helper that did not start", "container", res.ID, "err", rerr)
		}
		return "", mapErr(err, "start files helper")
	}
	return res.ID, nil
}

// removeFilesHelpers removes the files helpers mounting volume, so the
// volume can go.
func (r *Runtime) removeFilesHelpers(ctx context.Context, volume string) error {
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelHelper+"="+r.cfg.Network).Add("label", labelHelperVolume+"="+volume)})
	if err != nil {
		return mapErr(err, "list files helpers")
	}
	for _, c := range res.Items {
		if err := r.removeContainer(ctx, c.ID); err != nil {
			return err
		}
		for _, n := range c.Names {
			r.fsHelpers.forget(strings.TrimPrefix(n, "/"))
		}
	}
	return nil
}

// fsopCall is one run of fsop in the files helper of container id.
type fsopCall struct {
	args   []string  // after "fsop": the operation, the root, the path...
	stdin  io.Reader // nil: none
	stdout io.Writer // where its standard output goes
	notDir error     // the kind a "not a directory" is for this call
}

// fsop runs c to its end. A helper that ended meanwhile (its life is
// over, or it was removed) is replaced and the call made once more,
// unless the call had input that may have been read already.
func (r *Runtime) fsop(ctx context.Context, id string, c fsopCall) error {
	volume, user, err := r.fsTarget(ctx, id)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		hid, err := r.filesHelper(ctx, volume, user)
		if err != nil {
			return err
		}
		err = r.fsopIn(ctx, hid, user, c)
		if errors.Is(err, errHelperGone) {
			r.fsHelpers.forget(fsHelperName(volume, user))
			if try == 0 && c.stdin == nil {
				continue
			}
			return warder.Errorf(warder.ErrUnavailable, "the files helper ended during the call: try again")
		}
		return err
	}
}

// errHelperGone: the helper was not running when the exec was made.
var errHelperGone = errors.New("files helper gone")

// fsopIn execs fsop in helper hid and maps its exit code. When ctx ends
// first the exec's connection is closed: fsop then meets the end of its
// input or output and stops (an upload removing what it made).
func (r *Runtime) fsopIn(ctx context.Context, hid, user string, c fsopCall) error {
	cmd := []string{agentPath, "fsop"}
	if user == "" {
		cmd = append(cmd, "-as-owner")
	}
	cmd = append(cmd, c.args...)
	created, err := r.cli.ExecCreate(ctx, hid, client.ExecCreateOptions{Cmd: cmd, AttachStdin: c.stdin != nil, AttachStdout: true, AttachStderr: true})
	if isNotFound(err) || isConflict(err) {
		return errHelperGone
	}
	if err != nil {
		return mapErr(err, "exec in files helper")
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if isNotFound(err) || isConflict(err) {
		return errHelperGone
	}
	if err != nil {
		return mapErr(err, "attach to files helper")
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	if c.stdin != nil {
		go func() {
			io.Copy(att.Conn, c.stdin)
			if cw, ok := att.Conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}()
	}
	var stderr bytes.Buffer
	_, cerr := stdcopy.StdCopy(c.stdout, &limitedWriter{w: &stderr, n: 16 << 10}, att.Reader)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var fe fnError
	if errors.As(cerr, &fe) {
		return fe.err
	}
	if cerr != nil {
		return mapErr(cerr, "read the files helper's output")
	}
	code, err := r.execExitCode(ctx, created.ID)
	if err != nil {
		return err
	}
	msg := clipOut(stderr.String())
	if err := fsop.Err(code, msg, c.notDir); err != nil || code == fsop.OK {
		return err
	}
	if code == 137 || code == 143 {
		return errHelperGone // killed with its container
	}
	return fmt.Errorf("files helper: exit %d: %s", code, msg)
}

// execExitCode waits (briefly: its output has ended) for the exec to be
// recorded as ended and returns its exit code.
func (r *Runtime) execExitCode(ctx context.Context, execID string) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := r.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return 0, mapErr(err, "inspect exec")
		}
		if !res.Running || time.Now().After(deadline) {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// failWriter hands p on, and turns a write error into an fnError so the
// copy above tells the caller's failure from the helper's.
type failWriter struct{ w io.Writer }

func (f failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, fnError{err}
	}
	return n, nil
}

// streamFsop runs c with its standard output as the returned reader. It
// returns once the first byte is there, or with fsop's error if it ended
// with none (a path refused or not found), so the caller can still answer
// with an error status.
func (r *Runtime) streamFsop(ctx context.Context, id string, c fsopCall) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	c.stdout = failWriter{pw}
	go func() { pw.CloseWithError(r.fsop(ctx, id, c)) }()
	br := bufio.NewReaderSize(pr, 32<<10)
	if _, err := br.Peek(1); err != nil {
		cancel()
		pr.Close()
		if err == io.EOF {
			err = fmt.Errorf("files helper: no output")
		}
		return nil, err
	}
	return &cancelReadCloser{Reader: br, close: func() error { cancel(); return pr.Close() }}, nil
}

type cancelReadCloser struct {
	io.Reader
	close func() error
}

func (c *cancelReadCloser) Close() error { return c.close() }
