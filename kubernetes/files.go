package kubernetes

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/fsop"
)

// Kubernetes has no archive API for a container's files, and an agent's
// image need not have any program to read them. So a workspace's files go
// through a helper Pod: the default image's warder-agent, mounting the
// workspace's claim, running `sleep` for helperLife and answering
// `warder-agent fsop ...` execs through the API server. It runs as the
// agent's user (so what it writes is the agent's, and it can read only
// what the agent can), with no capabilities, no network (a NetworkPolicy
// isolates it both ways), no credentials and a read-only root. One helper
// per workspace and role serves every call for a few minutes, so a user
// browsing files pays a Pod start once, not per click; it ends by itself,
// so a Warder that stops leaves nothing running.

// The helper's identity and life.
const (
	labelHelper     = "warder.io/helper" // value: the deployment's network
	annotHelperUser = "warder.io/helper-user"
	helperContainer = "helper"
	agentBinary     = "/warder-agent"
	// helperLife is how long a helper runs; one older than helperReuse is
	// replaced rather than given a call that might outlast it.
	helperLife  = 5 * time.Minute
	helperReuse = 4 * time.Minute
	// listBytes bounds a directory listing's JSON.
	listBytes = 8 << 20
)

// helperRole is what a helper is for.
type helperRole string

const (
	roleFiles   helperRole = "files" // the files API, as the agent's user
	roleMeasure helperRole = "du"    // usage: root, read-only, may read all
)

type helperSpec struct {
	claim string
	role  helperRole
	// uid and gid run roleFiles helpers; node pins the helper to the
	// node of the agent's Pod (a ReadWriteOnce volume is one node's).
	uid, gid int64
	node     string
}

func (h helperSpec) name() string { return h.claim + "-" + string(h.role) }

func (h helperSpec) user() string {
	return strconv.FormatInt(h.uid, 10) + ":" + strconv.FormatInt(h.gid, 10)
}

// helperPod is the helper's Pod.
func (r *Runtime) helperPod(h helperSpec) pod {
	no, yes := false, true
	grace, deadline := int64(0), int64((helperLife+time.Minute)/time.Second)
	secs := strconv.Itoa(int(helperLife / time.Second))
	c := container{
		Name: helperContainer, Image: r.cfg.HelperImage, ImagePullPolicy: "IfNotPresent",
		Command: []string{agentBinary, "sleep", secs},
		SecurityContext: &securityContext{
			AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, Privileged: &no,
			Capabilities: &capabilities{Drop: []string{"ALL"}},
		},
		Resources: resources{
			Limits:   map[string]string{"memory": "64Mi", "cpu": "250m"},
			Requests: map[string]string{"memory": "16Mi", "cpu": "10m"},
		},
		VolumeMounts: []volumeMount{{Name: workspaceVolume, MountPath: warder.WorkspaceMountPath, ReadOnly: h.role == roleMeasure}},
	}
	psc := &podSecurityContext{SeccompProfile: &seccompProfile{Type: "RuntimeDefault"}}
	if h.role == roleMeasure {
		zero := int64(0)
		psc.RunAsUser, psc.RunAsGroup = &zero, &zero
		c.SecurityContext.Capabilities.Add = []string{"DAC_READ_SEARCH"}
	} else {
		uid, gid := h.uid, h.gid
		psc.RunAsUser, psc.RunAsGroup = &uid, &gid
		if uid != 0 {
			psc.RunAsNonRoot = &yes
			workspaceOwner(psc)
		}
	}
	return pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: meta{Name: h.name(), Namespace: r.cfg.Namespace,
			Labels:      map[string]string{labelHelper: r.cfg.Network, "app.kubernetes.io/managed-by": "warder"},
			Annotations: map[string]string{annotHelperUser: h.user()}},
		Spec: podSpec{
			Containers: []container{c}, RestartPolicy: "Never",
			TerminationGracePeriodSeconds: &grace, ActiveDeadlineSeconds: &deadline,
			AutomountServiceAccountToken: &no, EnableServiceLinks: &no,
			SecurityContext: psc, NodeName: h.node,
			Volumes: []volume{{Name: workspaceVolume, PersistentVolumeClaim: &claimSource{ClaimName: h.claim}}},
		},
	}
}

// helper returns the name of a running helper for h, starting one (or
// replacing one too old, ended, or of another user) when needed.
func (r *Runtime) helper(ctx context.Context, h helperSpec) (string, error) {
	if r.cfg.HelperImage == "" {
		return "", warder.Errorf(warder.ErrNotSupported, "workspaces need the default agent image (WARDER_IMAGE) on the cluster's nodes")
	}
	name := h.name()
	deadline := time.Now().Add(r.cfg.StartTimeout)
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 250*time.Millisecond) {
		p, err := r.podNamed(ctx, name)
		if err != nil {
			return "", err
		}
		switch {
		case p == nil:
			err := r.api.do(ctx, http.MethodPost, r.ns()+"/pods", r.helperPod(h), nil)
			if err != nil && !errors.Is(err, warder.ErrConflict) {
				return "", fmt.Errorf("start workspace helper %s: %w", name, err)
			}
		case p.Metadata.DeletionTimestamp != nil:
			// Going: wait for it.
		case p.Metadata.Annotations[annotHelperUser] != h.user() || p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" ||
			p.Metadata.CreationTimestamp != nil && time.Since(*p.Metadata.CreationTimestamp) > helperReuse:
			if err := r.deletePod(ctx, p, 0); err != nil {
				return "", err
			}
		case helperRunning(p):
			return name, nil
		default:
			if why := helperStuck(p); why != "" {
				return "", warder.Errorf(warder.ErrUnavailable, "workspace helper %s cannot start: %s", name, why)
			}
		}
		if time.Now().After(deadline) {
			return "", warder.Errorf(warder.ErrUnavailable, "workspace helper %s is not running after %s", name, r.cfg.StartTimeout)
		}
		if err := sleep(ctx, delay); err != nil {
			return "", err
		}
	}
}

func helperRunning(p *pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == helperContainer && c.State.Running != nil {
			return p.Status.Phase == "Running"
		}
	}
	return false
}

// helperStuck names a reason the helper will not start without a change
// (its image missing, say), "" while it may still start.
func helperStuck(p *pod) string {
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil && startFailures[w.Reason] {
			return w.Reason + ": " + w.Message
		}
	}
	return ""
}

// removeHelpers deletes the helpers of a claim, at once.
func (r *Runtime) removeHelpers(ctx context.Context, claimName string) error {
	for _, role := range []helperRole{roleFiles, roleMeasure} {
		p, err := r.podNamed(ctx, helperSpec{claim: claimName, role: role}.name())
		if err != nil {
			return err
		}
		if p != nil && p.Metadata.Labels[labelHelper] == r.cfg.Network {
			if err := r.deletePod(ctx, p, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// filesHelper is the helper of workload id's workspace, as its user.
func (r *Runtime) filesHelper(ctx context.Context, id string) (string, error) {
	rec, err := r.record(ctx, id)
	if err != nil {
		return "", err
	}
	spec, err := specOf(rec)
	if err != nil {
		return "", err
	}
	if spec.Workspace == nil {
		return "", warder.Errorf(warder.ErrConflict, "the agent's workload has no workspace: delete it and start the agent again (agents made before workspaces existed)")
	}
	h := helperSpec{claim: spec.Workspace.Name, role: roleFiles}
	if !spec.AllowRoot {
		h.uid, h.gid = nonRootIDs()
	}
	if p, err := r.getPod(ctx, rec); err != nil {
		return "", err
	} else if p != nil && p.Metadata.DeletionTimestamp == nil {
		h.node = p.Spec.NodeName
	}
	return r.helper(ctx, h)
}

// fsop runs `warder-agent fsop args...` in helper pod, with stdin, its
// output to stdout, and turns its exit code into Warder's error kinds.
func (r *Runtime) fsop(ctx context.Context, pod string, stdin io.Reader, stdout io.Writer, notDir error, args ...string) error {
	col := collect{stdout: stdout}
	cmd := append([]string{agentBinary, "fsop"}, args...)
	code, err := r.execIn(ctx, pod, helperContainer, cmd, stdin, col.out)
	if err != nil {
		var fe fnError
		if errors.As(err, &fe) {
			return fe.err
		}
		return err
	}
	msg := strings.TrimSpace(col.stderr.String())
	if err := fsop.Err(code, msg, notDir); err != nil || code == fsop.OK {
		return err
	}
	if code == fsop.Failed {
		// The filesystem's refusal of another kind: its message names
		// only paths in the agent's own workspace.
		return warder.Errorf(warder.ErrConflict, "%s", msg)
	}
	return execErr("workspace helper "+pod, code, msg)
}

// StatFile describes rel.
func (r *Runtime) StatFile(ctx context.Context, id, rel string) (warder.FileInfo, error) {
	h, err := r.filesHelper(ctx, id)
	if err != nil {
		return warder.FileInfo{}, err
	}
	return r.stat(ctx, h, rel)
}

// stat describes rel through the helper pod h.
func (r *Runtime) stat(ctx context.Context, h, rel string) (warder.FileInfo, error) {
	var out bytes.Buffer
	if err := r.fsop(ctx, h, nil, &limitedWriter{w: &out, n: 64 << 10}, warder.ErrInvalid, "stat", warder.WorkspaceMountPath, rel); err != nil {
		return warder.FileInfo{}, err
	}
	var e fsEntry
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		return warder.FileInfo{}, fmt.Errorf("workspace helper: %w", err)
	}
	return e.info(rel), nil
}

// fsEntry is an entry as `fsop` writes it.
type fsEntry struct {
	Name  string      `json:"name"`
	Mode  fs.FileMode `json:"mode"`
	Size  int64       `json:"size"`
	MTime int64       `json:"mtime_ns"`
}

func (e fsEntry) info(rel string) warder.FileInfo {
	return warder.NewFileInfo(rel, e.Name, e.Mode, e.Size, time.Unix(0, e.MTime))
}

// ListDir lists the directory's entries, at most limit of them.
func (r *Runtime) ListDir(ctx context.Context, id, rel string, limit int) ([]*warder.FileInfo, error) {
	h, err := r.filesHelper(ctx, id)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	lw := &limitedWriter{w: &out, n: listBytes}
	if err := r.fsop(ctx, h, nil, lw, warder.ErrInvalid, "list", warder.WorkspaceMountPath, rel, strconv.Itoa(limit)); err != nil {
		return nil, err
	}
	var entries []fsEntry
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		return nil, fmt.Errorf("workspace helper: listing %s: %w", rel, err)
	}
	list := make([]*warder.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi := e.info(path.Join(rel, e.Name))
		list = append(list, &fi)
	}
	return list, nil
}

// ReadTar streams rel as a tar while the helper writes it; an error the
// helper ends with (after the first bytes) fails the reader.
func (r *Runtime) ReadTar(ctx context.Context, id, rel string) (io.ReadCloser, error) {
	h, err := r.filesHelper(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := r.stat(ctx, h, rel); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(r.fsop(ctx, h, nil, pw, warder.ErrInvalid, "tar", warder.WorkspaceMountPath, rel))
	}()
	return &cancelReader{PipeReader: pr, cancel: cancel}, nil
}

// cancelReader ends the helper's stream when the reader is closed.
type cancelReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (c *cancelReader) Close() error {
	c.cancel()
	return c.PipeReader.Close()
}

// WriteTar extracts tr into dir, as the agent's user.
func (r *Runtime) WriteTar(ctx context.Context, id, dir string, tr io.Reader) error {
	h, err := r.filesHelper(ctx, id)
	if err != nil {
		return err
	}
	return r.fsop(ctx, h, tr, io.Discard, warder.ErrConflict, "untar", warder.WorkspaceMountPath, dir)
}

// RemoveFile deletes rel and what is under it, as the agent's user.
func (r *Runtime) RemoveFile(ctx context.Context, id, rel string) error {
	if rel == "" {
		return warder.Errorf(warder.ErrInvalid, "the workspace root cannot be deleted; delete what is in it")
	}
	h, err := r.filesHelper(ctx, id)
	if err != nil {
		return err
	}
	return r.fsop(ctx, h, nil, io.Discard, warder.ErrConflict, "rm", warder.WorkspaceMountPath, rel)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
