package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/warder/warder"
)

var (
	_ warder.WorkspaceRuntime = (*Runtime)(nil)
	_ warder.FileRuntime      = (*Runtime)(nil)
	_ warder.ExecRuntime      = (*Runtime)(nil)
)

// An agent's workspace on Kubernetes is a PersistentVolumeClaim named
// WorkspaceName(agent id), ReadWriteOnce, of the operator's StorageClass
// (or the cluster's default), mounted into the agent's Pod at
// WorkspaceMountPath. It outlives the Pod and the workload's record, so it
// is kept across stops, re-creations and image changes, and is deleted
// with the agent unless kept. Its size is the claim's request: enforced
// where the volume's driver enforces it, and by Warder on uploads.

// defaultWorkspaceBytes is a claim's size when no bound is set: a claim
// must ask for one.
const defaultWorkspaceBytes = 1 << 30

func (r *Runtime) claimPath(name string) string {
	return r.ns() + "/persistentvolumeclaims/" + url.PathEscape(name)
}

// ensureClaim makes the workspace's claim unless it exists (an agent's
// workspace from before is kept as it is).
func (r *Runtime) ensureClaim(ctx context.Context, ws *warder.WorkspaceSpec) error {
	var have claim
	err := r.api.do(ctx, http.MethodGet, r.claimPath(ws.Name), nil, &have)
	if err == nil {
		if have.Metadata.DeletionTimestamp != nil {
			return warder.Errorf(warder.ErrConflict, "workspace %s is being deleted; try again in a moment", ws.Name)
		}
		return nil
	}
	if !errors.Is(err, warder.ErrNotFound) {
		return fmt.Errorf("workspace %s: %w", ws.Name, err)
	}
	err = r.api.do(ctx, http.MethodPost, r.ns()+"/persistentvolumeclaims", r.claimOf(ws), nil)
	if err != nil && !errors.Is(err, warder.ErrConflict) {
		return fmt.Errorf("create workspace %s: %w", ws.Name, err)
	}
	return nil
}

// claimOf is the claim of a workspace: labelled with what Kubernetes
// accepts of its labels (all of them are annotations too).
func (r *Runtime) claimOf(ws *warder.WorkspaceSpec) claim {
	labels := map[string]string{"app.kubernetes.io/managed-by": "warder"}
	annotations := map[string]string{}
	for k, v := range ws.Labels {
		annotations[k] = v
		if len(v) <= 63 && labelValueRe.MatchString(v) {
			labels[k] = v
		}
	}
	size := ws.SizeBytes
	if size <= 0 {
		size = defaultWorkspaceBytes
	}
	c := claim{
		APIVersion: "v1", Kind: "PersistentVolumeClaim",
		Metadata: meta{Name: ws.Name, Namespace: r.cfg.Namespace, Labels: labels, Annotations: annotations},
		Spec: claimSpec{
			AccessModes: []string{"ReadWriteOnce"},
			Resources:   resources{Requests: map[string]string{"storage": bytesQuantity(size)}},
		},
	}
	if r.cfg.StorageClass != "" {
		sc := r.cfg.StorageClass
		c.Spec.StorageClassName = &sc
	}
	return c
}

// Workspaces lists the claims labelled as this deployment's workspaces.
func (r *Runtime) Workspaces(ctx context.Context) ([]*warder.Workspace, error) {
	var list claimList
	sel := query("labelSelector", warder.LabelWorkspace+"="+r.cfg.Network)
	if err := r.api.do(ctx, http.MethodGet, r.ns()+"/persistentvolumeclaims"+sel, nil, &list); err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	out := make([]*warder.Workspace, 0, len(list.Items))
	for _, c := range list.Items {
		if c.Metadata.DeletionTimestamp != nil {
			continue
		}
		w := &warder.Workspace{Name: c.Metadata.Name, AgentID: c.Metadata.Annotations[warder.LabelAgentID],
			UserID: c.Metadata.Annotations[warder.LabelUserID], SizeBytes: -1}
		if t := c.Metadata.CreationTimestamp; t != nil {
			w.CreatedAt = t.UTC()
		}
		out = append(out, w)
	}
	return out, nil
}

// WorkspaceUsage runs du in a helper on the claim, as root with only
// CAP_DAC_READ_SEARCH and the volume read-only, so it sees files the
// agent made private and can change nothing.
func (r *Runtime) WorkspaceUsage(ctx context.Context, name string) (int64, error) {
	var c claim
	if err := r.api.do(ctx, http.MethodGet, r.claimPath(name), nil, &c); err != nil {
		return 0, fmt.Errorf("workspace %s: %w", name, err)
	}
	h, err := r.helper(ctx, helperSpec{claim: name, role: roleMeasure})
	if err != nil {
		return 0, err
	}
	var out bytes.Buffer
	col := collect{stdout: &limitedWriter{w: &out, n: 64}}
	code, err := r.execIn(ctx, h, helperContainer, []string{agentBinary, "du", warder.WorkspaceMountPath}, nil, col.out)
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	if code != 0 || perr != nil {
		return 0, execErr("measuring workspace "+name, code, col.stderr.String())
	}
	return n, nil
}

// RemoveWorkspace deletes the claim (and with it, by the StorageClass's
// reclaim policy, its volume) after its helpers; gone is success. A
// workload whose record mounts it, running or not, is a conflict, as a
// volume a container holds is on Docker.
func (r *Runtime) RemoveWorkspace(ctx context.Context, name string) error {
	var recs secretList
	if err := r.api.do(ctx, http.MethodGet, r.ns()+"/secrets"+query("labelSelector", r.selector()), nil, &recs); err != nil {
		return fmt.Errorf("remove workspace %s: %w", name, err)
	}
	for _, rec := range recs.Items {
		if spec, err := specOf(rec); err == nil && spec.Workspace != nil && spec.Workspace.Name == name && rec.Metadata.DeletionTimestamp == nil {
			return warder.Errorf(warder.ErrConflict, "workspace %s is still in use by workload %s", name, rec.Metadata.Name)
		}
	}
	if err := r.removeHelpers(ctx, name); err != nil {
		return err
	}
	err := r.api.do(ctx, http.MethodDelete, r.claimPath(name), map[string]any{"kind": "DeleteOptions", "apiVersion": "v1"}, nil)
	if err != nil && !errors.Is(err, warder.ErrNotFound) {
		return fmt.Errorf("remove workspace %s: %w", name, err)
	}
	return nil
}

// limitedWriter keeps the first n bytes written and drops the rest.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
