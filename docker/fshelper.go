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
// A helper per workspace and user serves every call of this process:
// its first process, `warder-agent linger`, keeps it up while any call
// runs in it and ends it once none has run for fsHelperIdle, so it never
// ends under a call, browsing files costs an exec (tens of milliseconds)
// rather than a container start, and a Warder that stops leaves nothing
// running for long. A helper idle for half that long is not given a new
// call (it may be about to end): a new one is started, under a new name,
// and the old one ends by itself. A helper holds no port and needs no
// container of the agent's: the files of an agent that was never started
// are reached the same way. Only the workspace's removal removes helpers
// that may be busy (their calls then fail as for a deleted agent).
const (
	// labelHelperVolume names the volume a files helper mounts, so the
	// workspace's removal finds it.
	labelHelperVolume = "warder.helper.volume"
	// listBytes bounds a directory listing's JSON; statBytes a stat's.
	listBytes = 8 << 20
	statBytes = 64 << 10
	agentPath = "/warder-agent"
	// fsHelperPids bounds a files helper's processes and threads: each
	// fsop is a Go program of a few threads, and a helper serves every
	// call of its workspace's user on this process.
	fsHelperPids = 256
)

// DefaultFilesHelperIdle is how long a files helper stays up with no call.
const DefaultFilesHelperIdle = 2 * time.Minute

// fsHelpers remembers the files helpers of this process, so a call finds
// its helper without asking the engine.
type fsHelpers struct {
	mu     sync.Mutex
	byName map[string]*fsHelper // by fsHelperKey
}

// fsHelper is one workspace's current helper: its turn-taking lock (one
// start at a time), its id, the calls running in it and when the last
// one began or ended.
type fsHelper struct {
	mu       sync.Mutex
	id       string
	inFlight int
	lastUsed time.Time
}

func (h *fsHelpers) get(key string) *fsHelper {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byName == nil {
		h.byName = map[string]*fsHelper{}
	}
	e := h.byName[key]
	if e == nil {
		e = &fsHelper{}
		h.byName[key] = e
	}
	return e
}

func (h *fsHelpers) forget(key string) {
	h.mu.Lock()
	delete(h.byName, key)
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

// fsHelperKey names the helpers of volume and user (a prefix of their
// container names; each helper adds a random part).
func fsHelperKey(volume, user string) string {
	sum := sha256.Sum256([]byte(volume + "\x00" + user))
	return HelperPrefix + "fs-" + hex.EncodeToString(sum[:8])
}

// filesHelper returns the id of a running files helper for volume and
// user, starting one unless the current one was given a call recently
// enough that it cannot be ending; done ends the call's hold on it.
//
// Recently means within half the idle time of its last call's start,
// whether calls are still in flight or not: a call in flight does not
// keep the helper up once its process has ended, and a download's `fsop
// tar` ends as soon as the engine has taken its output, which a slow
// client may still be reading long after; the helper then ends after
// its idle time, and a call given to it then would fail
// (TestFilesHelperOutlivesItsCalls caught that).
func (r *Runtime) filesHelper(ctx context.Context, volume, user string) (id string, done func(), err error) {
	key := fsHelperKey(volume, user)
	e := r.fsHelpers.get(key)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.id == "" || time.Since(e.lastUsed) >= r.filesHelperIdle()/2 {
		id, err := r.startFilesHelper(ctx, key+"-"+randomHex(4), volume, user)
		if err != nil {
			return "", nil, err
		}
		e.id, e.inFlight = id, 0
	}
	e.inFlight++
	e.lastUsed = time.Now()
	id = e.id
	return id, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.id == id {
			e.inFlight--
			e.lastUsed = time.Now()
		}
	}, nil
}

// helperGone drops the helper id from the cache, so the next call starts
// another.
func (r *Runtime) helperGone(volume, user, id string) {
	e := r.fsHelpers.get(fsHelperKey(volume, user))
	e.mu.Lock()
	if e.id == id {
		e.id, e.inFlight = "", 0
	}
	e.mu.Unlock()
}

func (r *Runtime) filesHelperIdle() time.Duration {
	if r.cfg.FilesHelperIdle > 0 {
		return r.cfg.FilesHelperIdle
	}
	return DefaultFilesHelperIdle
}

// startFilesHelper makes and starts the helper; one that was made but
// would not start is removed.
func (r *Runtime) startFilesHelper(ctx context.Context, name, volume, user string) (string, error) {
	podman, err := r.isPodman(ctx)
	if err != nil {
		return "", err
	}
	// The engine makes a volume a container names if it is missing: a
	// helper for a workspace removed meanwhile (its agent deleted) must
	// not bring it back empty.
	if err := r.workspaceExists(ctx, volume); err != nil {
		return "", err
	}
	pids := int64(fsHelperPids)
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
	secs := fmt.Sprint(r.filesHelperIdle().Seconds())
	res, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: r.cfg.DefaultImage, Cmd: []string{"linger", secs}, User: runAs,
			Labels: map[string]string{LabelHelper: r.cfg.Network, labelHelperVolume: volume}},
		HostConfig: host,
	})
	if isNotFound(err) {
		// The default image is gone: Setup builds it again.
		if serr := r.Setup(ctx); serr != nil {
			return "", serr
		}
		res, err = r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
			Config: &container.Config{Image: r.cfg.DefaultImage, Cmd: []string{"linger", secs}, User: runAs,
				Labels: map[string]string{LabelHelper: r.cfg.Network, labelHelperVolume: volume}},
			HostConfig: host})
	}
	if err != nil {
		if isConflict(err) {
			return "", err
		}
		return "", mapErr(err, "create files helper")
	}
	if err := r.workspaceExists(ctx, volume); err != nil {
		// Removed between the check and the create: the engine made an
		// empty one of that name for the helper. Both go.
		cctx := context.WithoutCancel(ctx)
		if rerr := r.removeContainer(cctx, res.ID); rerr != nil {
			r.log.Error("removing a files helper of a removed workspace", "container", res.ID, "err", rerr)
		} else if _, rerr := r.cli.VolumeRemove(cctx, volume, client.VolumeRemoveOptions{}); rerr != nil && !isNotFound(rerr) {
			r.log.Error("removing a volume the engine made for a files helper", "volume", volume, "err", rerr)
		}
		return "", err
	}
	if _, err := r.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		if rerr := r.removeContainer(context.WithoutCancel(ctx), res.ID); rerr != nil {
			r.log.Error("removing a files helper that did not start", "container", res.ID, "err", rerr)
		}
		return "", mapErr(err, "start files helper")
	}
	return res.ID, nil
}

// workspaceExists reports ErrNotFound unless volume is a workspace Warder
// made: one that exists and carries labels (the engine's own, made for a
// container naming a missing volume, carries none).
func (r *Runtime) workspaceExists(ctx context.Context, volume string) error {
	v, err := r.cli.VolumeInspect(ctx, volume, client.VolumeInspectOptions{})
	switch {
	case isNotFound(err) || err == nil && len(v.Volume.Labels) == 0:
		return warder.Errorf(warder.ErrNotFound, "the agent's workspace no longer exists (the agent was deleted)")
	case err != nil:
		return mapErr(err, "inspect volume "+volume)
	}
	return nil
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
			n = strings.TrimPrefix(n, "/")
			if i := strings.LastIndexByte(n, '-'); i > 0 {
				r.fsHelpers.forget(n[:i])
			}
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

// fsop runs c to its end. A helper found gone before the call began
// (ended, or removed) is replaced and the call made once more; one that
// stops during a call (only the workspace's removal stops a busy helper)
// fails the call, as for a deleted agent.
func (r *Runtime) fsop(ctx context.Context, id string, c fsopCall) error {
	volume, user, err := r.fsTarget(ctx, id)
	if err != nil {
		return err
	}
	if ws := r.directWorkspace(ctx, volume, user); ws != nil {
		return ws.fsop(ctx, c) // direct.go
	}
	for try := 0; ; try++ {
		hid, done, err := r.filesHelper(ctx, volume, user)
		if err != nil {
			return err
		}
		err = r.fsopIn(ctx, hid, user, c)
		done()
		switch {
		case errors.Is(err, errHelperGone):
			r.helperGone(volume, user, hid)
			if try == 0 {
				continue
			}
			return warder.Errorf(warder.ErrUnavailable, "the files helper could not be reached: try again")
		case errors.Is(err, errHelperStopped):
			r.helperGone(volume, user, hid)
			// Only a workspace's removal stops a busy helper, after the
			// agent's container is gone: the agent is being deleted.
			_, cerr := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			_, verr := r.cli.VolumeInspect(ctx, volume, client.VolumeInspectOptions{})
			if isNotFound(cerr) || isNotFound(verr) {
				return warder.Errorf(warder.ErrNotFound, "the agent was deleted during the call")
			}
			return warder.Errorf(warder.ErrUnavailable, "the files helper stopped during the call: try again")
		}
		return err
	}
}

// errHelperGone: the helper could not take the call (it was not running
// when the exec was made); nothing of the call was done or read.
// errHelperStopped: it stopped while the call ran.
var (
	errHelperGone    = errors.New("files helper gone")
	errHelperStopped = errors.New("files helper stopped")
)

// fsopIn execs fsop in helper hid and maps its exit code. When ctx ends
// first the exec's connection is closed: fsop then meets the end of its
// input or output and stops (an upload removing what it made).
func (r *Runtime) fsopIn(ctx context.Context, hid, user string, c fsopCall) error {
	cmd := []string{agentPath, "fsop"}
	if user == "" {
		cmd = append(cmd, "-as-owner")
	}
	cmd = append(cmd, c.args...)
	// One processor is enough for fsop: fewer threads, fewer of the
	// helper's pids.
	created, err := r.cli.ExecCreate(ctx, hid, client.ExecCreateOptions{Cmd: cmd, Env: []string{"GOMAXPROCS=1"},
		AttachStdin: c.stdin != nil, AttachStdout: true, AttachStderr: true})
	if isNotFound(err) || isConflict(err) {
		return errHelperGone
	}
	if err != nil {
		return mapErr(err, "exec in files helper")
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		if isUnavailable(err) || ctx.Err() != nil {
			return mapErr(err, "attach to files helper")
		}
		// The engine refuses to start an exec in a container that is no
		// longer running (some versions with a 500 on the upgrade).
		return errHelperGone
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
	switch code {
	case 126, 127:
		// The runtime could not start fsop: the helper was stopping.
		return errHelperStopped
	case 137, 143:
		return errHelperStopped // killed with its container
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
