// Package kubernetes runs agents as Pods on a Kubernetes cluster: the
// second warder.Runtime, beside package docker, passing the same
// conformance suite (internal/runtimetest). See docs/kubernetes.md.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
)

// Config is what the runtime needs to know of the cluster and the
// operator's settings.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file (KUBECONFIG); "" means
	// the credentials of the pod Warder runs in.
	Kubeconfig string
	// Namespace holds every agent of this deployment
	// (WARDER_K8S_NAMESPACE); Setup creates it when missing.
	Namespace string
	// Network is AGENT_NETWORK: on Kubernetes it names this deployment's
	// agents (their warder.managed label), nothing more.
	Network string
	// StartTimeout bounds how long Start waits for the Pod to run (image
	// pull, scheduling); 0 means 2 minutes.
	StartTimeout time.Duration
	// HelperImage is the default agent image (WARDER_IMAGE), whose
	// /warder-agent the workspace helpers run (files.go); the nodes must
	// have it or be able to pull it. "" turns workspaces, files and exec
	// off.
	HelperImage string
	// StorageClass is the class of agents' workspace claims
	// (WARDER_K8S_STORAGE_CLASS); "" is the cluster's default class.
	StorageClass string
	// ControlNamespace is the one namespace whose pods labelled
	// warder.io/control-plane=true may open connections to agents
	// (WARDER_K8S_CONTROL_NAMESPACE): Warder's own, when it runs in the
	// cluster. "" means the namespace of the pod Warder runs in, with the
	// pod's credentials (no Kubeconfig), else the agents' Namespace.
	ControlNamespace string
	// Logger is told of what Setup makes; nil means slog.Default().
	Logger *slog.Logger
	// Isolations are the levels agents may have, the default first
	// (warder.ParseIsolationPolicy); nil is runc alone. GVisorRuntimeClass
	// is the RuntimeClass of level gvisor (WARDER_K8S_GVISOR_RUNTIME_CLASS;
	// "" is DefaultGVisorRuntimeClass), offered once Setup finds it.
	Isolations         []warder.Isolation
	GVisorRuntimeClass string
	// EgressProxy is the address (WARDER_EGRESS_PROXY=IP:PORT) where
	// Warder's egress proxy, and the LLM gateway on it, listen for
	// agents; the zero value for none. Setup then lets agents on the
	// internal network (egress "none" or a list) open connections to it
	// and to nothing else (policyProxy).
	EgressProxy netip.AddrPort
}

// Runtime runs agents as Pods. It is safe for concurrent use; create it
// with New and release it with Close.
type Runtime struct {
	cfg Config
	api *apiClient
	log *slog.Logger

	summaries summaryCache   // the kubelets' resource summaries, per node
	iso       isolationState // the cluster's RuntimeClasses, once known (gvisor.go)
}

// New returns a runtime for the cluster cfg names, without contacting it.
func New(cfg Config) (*Runtime, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "warder-agents"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	api, err := newClient(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if cfg.ControlNamespace == "" {
		cfg.ControlNamespace = ownNamespace(cfg.Kubeconfig, inClusterDir, cfg.Namespace)
	}
	return &Runtime{cfg: cfg, api: api, log: cfg.Logger}, nil
}

// ownNamespace is the namespace of the pod Warder runs in, as its service
// account's files say, when it uses the pod's credentials (no kubeconfig);
// otherwise, or when they do not say, fallback.
func ownNamespace(kubeconfig, dir, fallback string) string {
	if kubeconfig != "" {
		return fallback
	}
	b, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if ns := strings.TrimSpace(string(b)); err == nil && ValidNamespace(ns) {
		return ns
	}
	return fallback
}

// namespaceRe is what Kubernetes accepts as a namespace's name (an RFC
// 1123 label).
var namespaceRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidNamespace reports whether s can name a namespace.
func ValidNamespace(s string) bool { return len(s) <= 63 && namespaceRe.MatchString(s) }

// Close releases idle connections.
func (r *Runtime) Close() error {
	r.api.http.CloseIdleConnections()
	return nil
}

// Info: no host ports (agents are reached at their pod IP) and restart
// policies as the Pod's restartPolicy.
func (r *Runtime) Info() warder.RuntimeInfo {
	return warder.RuntimeInfo{Name: "kubernetes", RestartPolicies: true, Isolations: r.isolations()}
}

// Parts: exec through the API server, and workspaces as claims when the
// helpers' image is known; no stats stream (the kubelet's summary is
// polled) and no warm pool.
func (r *Runtime) Parts() warder.RuntimeParts {
	p := warder.RuntimeParts{Exec: r}
	if r.cfg.HelperImage != "" {
		p.Workspaces, p.Files = r, r
	}
	return p
}

// Ping asks the API server for its version, which any credential may.
func (r *Runtime) Ping(ctx context.Context) error {
	return r.api.do(ctx, http.MethodGet, "/version", nil, nil)
}

func (r *Runtime) ns() string { return "/api/v1/namespaces/" + r.cfg.Namespace }

func (r *Runtime) secretPath(name string) string { return r.ns() + "/secrets/" + url.PathEscape(name) }
func (r *Runtime) podPath(name string) string    { return r.ns() + "/pods/" + url.PathEscape(name) }

// selector selects this deployment's objects.
func (r *Runtime) selector() string {
	return warder.LabelManaged + "=" + r.cfg.Network
}

// A workload's id is its name and its record's UID, "name/uid": a
// workload made again under the same name has a new id, as a container
// made again has on Docker, and a call naming the old one finds nothing.
func workloadID(rec secret) string { return rec.Metadata.Name + "/" + rec.Metadata.UID }

// splitID parses an id; a bare name (Remove takes one) has no UID.
func splitID(id string) (name, uid string) {
	name, uid, _ = strings.Cut(id, "/")
	return name, uid
}

// record reads a workload's Secret; ErrNotFound when there is none, when
// it is another workload of the same name, or when the Secret is not one
// of this deployment's workloads.
func (r *Runtime) record(ctx context.Context, id string) (secret, error) {
	name, uid := splitID(id)
	var s secret
	if err := r.api.do(ctx, http.MethodGet, r.secretPath(name), nil, &s); err != nil {
		return s, fmt.Errorf("workload %s: %w", id, err)
	}
	if (uid != "" && s.Metadata.UID != uid) || s.Metadata.Labels[warder.LabelManaged] != r.cfg.Network || s.Metadata.Annotations[annotSpec] == "" {
		return s, warder.Errorf(warder.ErrNotFound, "workload %s: no such workload of this Warder's", id)
	}
	return s, nil
}

// getPod reads the Pod of the workload rec records; nil when it has none.
func (r *Runtime) getPod(ctx context.Context, rec secret) (*pod, error) {
	p, err := r.podNamed(ctx, rec.Metadata.Name)
	if p != nil && p.Metadata.Annotations[annotWorkload] != rec.Metadata.UID {
		return nil, nil // another workload's, of the same name
	}
	return p, err
}

// podNamed reads the Pod of a name; nil when there is none.
func (r *Runtime) podNamed(ctx context.Context, name string) (*pod, error) {
	var p pod
	err := r.api.do(ctx, http.MethodGet, r.podPath(name), nil, &p)
	if errors.Is(err, warder.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	return &p, nil
}

// annotate merges annotations into the record of the workload named name.
func (r *Runtime) annotate(ctx context.Context, name string, annotations map[string]any) error {
	patch := map[string]any{"metadata": map[string]any{"annotations": annotations}}
	return r.api.do(ctx, http.MethodPatch, r.secretPath(name), patch, nil)
}

// deletePod deletes the Pod p, giving its agent grace to end, and waits
// until it is gone (so a new one of its name can be made), up to grace
// and 30 s more. A Pod that is already gone is success.
func (r *Runtime) deletePod(ctx context.Context, p *pod, grace time.Duration) error {
	if p == nil {
		return nil
	}
	id := p.Metadata.Name
	secs := int64((grace + time.Second - 1) / time.Second)
	body := map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": secs,
		"preconditions": map[string]any{"uid": p.Metadata.UID}}
	err := r.api.do(ctx, http.MethodDelete, r.podPath(id), body, nil)
	if errors.Is(err, warder.ErrConflict) {
		return nil // the name is another Pod's now: this one is gone
	}
	if errors.Is(err, warder.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete pod %s: %w", id, err)
	}
	deadline := time.Now().Add(grace + 30*time.Second)
	for {
		now, err := r.podNamed(ctx, id)
		if err != nil || now == nil || now.Metadata.UID != p.Metadata.UID {
			return err
		}
		if time.Now().After(deadline) {
			return warder.Errorf(warder.ErrUnavailable, "pod %s is still being deleted after %s", id, grace+30*time.Second)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Create records spec in a new Secret, replacing any workload of its
// name, and returns its id.
func (r *Runtime) Create(ctx context.Context, spec warder.WorkloadSpec) (string, error) {
	rec, err := recordOf(r.cfg.Namespace, spec)
	if err != nil {
		return "", err
	}
	if spec.Workspace != nil {
		if err := r.ensureClaim(ctx, spec.Workspace); err != nil {
			return "", err
		}
	}
	if err := r.Remove(ctx, spec.Name); err != nil {
		return "", err
	}
	var made secret
	err = r.api.do(ctx, http.MethodPost, r.ns()+"/secrets", rec, &made)
	if errors.Is(err, warder.ErrConflict) {
		// Deleted a moment ago and not yet gone: try once more.
		if err = sleep(ctx, 200*time.Millisecond); err == nil {
			err = r.api.do(ctx, http.MethodPost, r.ns()+"/secrets", rec, &made)
		}
	}
	if err != nil {
		return "", fmt.Errorf("create workload %s: %w", spec.Name, err)
	}
	return workloadID(made), nil
}

// Start makes the workload's Pod, unless one runs already, and waits until
// its agent runs (or has already ended), as a Docker start does. A Pod
// that ended is replaced. An image that cannot be pulled, or a Pod that
// does not run within StartTimeout, is an error.
func (r *Runtime) Start(ctx context.Context, id string) (warder.WorkloadState, error) {
	rec, err := r.record(ctx, id)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	spec, err := specOf(rec)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	name := rec.Metadata.Name
	p, err := r.podNamed(ctx, name)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	if p != nil && (p.Metadata.Annotations[annotWorkload] != rec.Metadata.UID || p.Metadata.DeletionTimestamp != nil ||
		p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed") {
		if err := r.deletePod(ctx, p, 0); err != nil {
			return warder.WorkloadState{}, err
		}
		p = nil
	}
	if p == nil {
		want := podOf(r.cfg.Namespace, spec, rec.Metadata.UID)
		if want.Spec.RuntimeClassName, err = r.runtimeClassOf(spec.Isolation); err != nil { // gvisor.go
			return warder.WorkloadState{}, err
		}
		if err := r.api.do(ctx, http.MethodPost, r.ns()+"/pods", want, nil); err != nil {
			return warder.WorkloadState{}, fmt.Errorf("start workload %s: %w", id, err)
		}
	}
	if err := r.annotate(ctx, name, map[string]any{annotDesired: desiredRunning}); err != nil {
		return warder.WorkloadState{}, fmt.Errorf("start workload %s: %w", id, err)
	}
	return r.waitStarted(ctx, rec)
}

// waitStarted polls the Pod until its agent runs or has run.
func (r *Runtime) waitStarted(ctx context.Context, rec secret) (warder.WorkloadState, error) {
	id := workloadID(rec)
	deadline := time.Now().Add(r.cfg.StartTimeout)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		p, err := r.getPod(ctx, rec)
		if err != nil {
			return warder.WorkloadState{}, err
		}
		if p == nil {
			return warder.WorkloadState{}, warder.Errorf(warder.ErrNotFound, "the pod of workload %s was deleted while it started", id)
		}
		var st warder.WorkloadState
		podState(&st, p)
		switch {
		case st.Error != "":
			return warder.WorkloadState{}, warder.Errorf(warder.ErrInvalid, "workload %s did not start: %s", id, st.Error)
		case st.Phase != warder.PhaseCreated:
			return stateOf(rec, p)
		case time.Now().After(deadline):
			why := p.Status.Reason + " " + p.Status.Message
			return warder.WorkloadState{}, warder.Errorf(warder.ErrUnavailable, "workload %s is not running after %s: pod %s %s", id, r.cfg.StartTimeout, p.Status.Phase, why)
		}
		if err := sleep(ctx, delay); err != nil {
			return warder.WorkloadState{}, err
		}
	}
}

// Stop records that the workload should not run and deletes its Pod,
// giving the agent timeout to end.
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	rec, err := r.record(ctx, id)
	if err != nil {
		return err
	}
	p, err := r.getPod(ctx, rec)
	if err != nil {
		return err
	}
	if rec.Metadata.Annotations[annotDesired] != desiredStopped || p != nil {
		// The Pod's last exit outlives it in the record, as a stopped
		// container keeps its exit code and restart count on Docker.
		var last warder.WorkloadState
		if p != nil {
			podState(&last, p)
		}
		patch := map[string]any{annotDesired: desiredStopped, annotStopped: time.Now().UTC().Format(time.RFC3339Nano),
			annotExitCode: strconv.Itoa(last.ExitCode), annotRestarts: strconv.Itoa(last.RestartCount),
			annotOOMKilled: strconv.FormatBool(last.OOMKilled)}
		if err := r.annotate(ctx, rec.Metadata.Name, patch); err != nil {
			return fmt.Errorf("stop workload %s: %w", id, err)
		}
	}
	return r.deletePod(ctx, p, timeout)
}

// Remove deletes the workload's Pod at once and its record. Either being
// gone already is success; so is a name that now holds another workload
// (an id's UID no longer matches). A bare name removes whatever holds it.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	name, uid := splitID(id)
	p, err := r.podNamed(ctx, name)
	if err != nil {
		return err
	}
	if p != nil && (uid == "" || p.Metadata.Annotations[annotWorkload] == uid) {
		if err := r.deletePod(ctx, p, 0); err != nil {
			return err
		}
	}
	body := map[string]any{"kind": "DeleteOptions", "apiVersion": "v1"}
	if uid != "" {
		body["preconditions"] = map[string]any{"uid": uid}
	}
	err = r.api.do(ctx, http.MethodDelete, r.secretPath(name), body, nil)
	if err != nil && !errors.Is(err, warder.ErrNotFound) && !errors.Is(err, warder.ErrConflict) {
		return fmt.Errorf("remove workload %s: %w", id, err)
	}
	return nil
}

// Inspect reports the workload's state from its record and its Pod.
func (r *Runtime) Inspect(ctx context.Context, id string) (warder.WorkloadState, error) {
	rec, err := r.record(ctx, id)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	p, err := r.getPod(ctx, rec)
	if err != nil {
		return warder.WorkloadState{}, err
	}
	return stateOf(rec, p)
}

// Running names the running workloads: List's two lists, filtered.
func (r *Runtime) Running(ctx context.Context) ([]string, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range all {
		if st.Running() {
			out = append(out, st.ID)
		}
	}
	return out, nil
}

// List reports every workload of this deployment: one list of records and
// one of Pods.
func (r *Runtime) List(ctx context.Context) ([]warder.WorkloadState, error) {
	sel := query("labelSelector", r.selector())
	var recs secretList
	if err := r.api.do(ctx, http.MethodGet, r.ns()+"/secrets"+sel, nil, &recs); err != nil {
		return nil, fmt.Errorf("list workloads: %w", err)
	}
	var pods podList
	if err := r.api.do(ctx, http.MethodGet, r.ns()+"/pods"+sel, nil, &pods); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	byName := make(map[string]*pod, len(pods.Items))
	for i := range pods.Items {
		byName[pods.Items[i].Metadata.Name] = &pods.Items[i]
	}
	out := make([]warder.WorkloadState, 0, len(recs.Items))
	for _, rec := range recs.Items {
		if rec.Metadata.Annotations[annotSpec] == "" {
			continue
		}
		p := byName[rec.Metadata.Name]
		if p != nil && p.Metadata.Annotations[annotWorkload] != rec.Metadata.UID {
			p = nil
		}
		st, err := stateOf(rec, p)
		if errors.Is(err, warder.ErrNotFound) {
			continue // its Pod was deleted outside Warder: as gone as a removed container
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
