package kubernetes

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
)

// An agent's workload on Kubernetes is two objects of one name, the spec's
// Name: a Secret, which is the workload's record (its spec, its env vars,
// secrets included, and whether it should run), and, while it runs, a Pod
// made from that record. Stop deletes the Pod and keeps the Secret, so the
// workload outlives its stops as a Docker container does.

// The annotations and labels this runtime adds to Warder's own.
const (
	annotSpec    = "warder.io/spec"    // the spec, without its env, as JSON
	annotDesired = "warder.io/desired" // desiredCreated, desiredRunning or desiredStopped
	annotStopped = "warder.io/stopped-at"
	// The last exit of a stopped workload's Pod, kept when it is deleted.
	annotExitCode  = "warder.io/exit-code"
	annotRestarts  = "warder.io/restarts"
	annotOOMKilled = "warder.io/oom-killed"
	// annotWorkload on a Pod is the UID of the record it was made from.
	annotWorkload = "warder.io/workload"
	labelNetwork  = "warder.io/network" // "internal" or "egress", for the NetworkPolicies
	// labelControlPlane marks the pods allowed to reach agents: Warder's,
	// when it runs in the cluster.
	labelControlPlane = "warder.io/control-plane"
	// labelNamespaceName is the label Kubernetes gives every namespace,
	// its own name (since 1.22): what a policy selects one namespace by.
	labelNamespaceName = "kubernetes.io/metadata.name"
	containerName      = "agent"
	workspaceVolume    = "workspace"
)

// What the record says the workload should be doing.
const (
	desiredCreated = "created"
	desiredRunning = "running"
	desiredStopped = "stopped"
)

// tmpBytes is the size of the agent's writable /tmp, as on Docker.
const tmpBytes = 64 << 20

// labelValueRe is what Kubernetes accepts as a label value.
var labelValueRe = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)

// objectLabels are the labels of both objects: Warder's labels whose values
// Kubernetes accepts as label values (ids and the deployment's name; an
// agent's name may hold spaces, so it is an annotation only), and the
// network the NetworkPolicies select on.
func objectLabels(spec warder.WorkloadSpec) map[string]string {
	l := map[string]string{"app.kubernetes.io/managed-by": "warder"}
	for _, k := range []string{warder.LabelManaged, warder.LabelAgentID, warder.LabelUserID} {
		if v := spec.Labels[k]; len(v) <= 63 && labelValueRe.MatchString(v) {
			l[k] = v
		}
	}
	l[labelNetwork] = warder.NetworkEgress
	if spec.Internal {
		l[labelNetwork] = warder.NetworkInternal
	}
	return l
}

// recordOf is the Secret that records spec.
func recordOf(namespace string, spec warder.WorkloadSpec) (secret, error) {
	bare := spec
	bare.Env = nil
	raw, err := json.Marshal(bare)
	if err != nil {
		return secret{}, err
	}
	annotations := map[string]string{annotSpec: string(raw), annotDesired: desiredCreated}
	for k, v := range spec.Labels {
		annotations[k] = v
	}
	return secret{
		APIVersion: "v1", Kind: "Secret", Type: "Opaque",
		Metadata:   meta{Name: spec.Name, Namespace: namespace, Labels: objectLabels(spec), Annotations: annotations},
		StringData: spec.Env,
	}, nil
}

// specOf reads the spec back from its record (without its env, which the
// Pod reads from the Secret itself).
func specOf(s secret) (warder.WorkloadSpec, error) {
	var spec warder.WorkloadSpec
	if err := json.Unmarshal([]byte(s.Metadata.Annotations[annotSpec]), &spec); err != nil {
		return spec, fmt.Errorf("workload %s: its record holds no spec: %v", s.Metadata.Name, err)
	}
	return spec, nil
}

// Requests are a fraction of the limits: an agent is mostly idle, and
// requests equal to the limits would let a 2-CPU node run four default
// agents. Memory is the one that matters for eviction, so more of it is
// reserved.
const (
	cpuRequestDivisor    = 10
	memoryRequestDivisor = 4
)

// podOf is the Pod that runs spec: the hardening of the Docker runtime in
// Kubernetes' words.
func podOf(namespace string, spec warder.WorkloadSpec, workload string) pod {
	no, yes := false, true
	grace := int64(10)
	c := container{
		Name:            containerName,
		Image:           spec.Image,
		ImagePullPolicy: "IfNotPresent",
		Ports:           []containerPort{{Name: "agent", ContainerPort: spec.Port, Protocol: "TCP"}},
		EnvFrom: []envFrom{{SecretRef: &struct {
			Name string `json:"name"`
		}{spec.Name}}},
		SecurityContext: &securityContext{
			AllowPrivilegeEscalation: &no,
			ReadOnlyRootFilesystem:   &yes,
			Privileged:               &no,
			Capabilities:             &capabilities{Drop: []string{"ALL"}},
		},
		VolumeMounts: []volumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	c.Resources = resources{Limits: map[string]string{}, Requests: map[string]string{}}
	if spec.MemoryBytes > 0 {
		c.Resources.Limits["memory"] = bytesQuantity(spec.MemoryBytes)
		c.Resources.Requests["memory"] = bytesQuantity(spec.MemoryBytes / memoryRequestDivisor)
	}
	if spec.MilliCPUs > 0 {
		c.Resources.Limits["cpu"] = strconv.FormatInt(spec.MilliCPUs, 10) + "m"
		c.Resources.Requests["cpu"] = strconv.FormatInt(max(1, spec.MilliCPUs/cpuRequestDivisor), 10) + "m"
	}
	psc := &podSecurityContext{SeccompProfile: &seccompProfile{Type: "RuntimeDefault"}}
	if !spec.AllowRoot {
		// The image's own user is unknown here (the node pulls it, not
		// Warder), so every agent runs as NonRootUser unless root is
		// allowed; runAsNonRoot makes the kubelet refuse anything else.
		uid, gid := nonRootIDs()
		psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot = &uid, &gid, &yes
	}
	vols := []volume{{Name: "tmp", EmptyDir: &emptyDir{Medium: "Memory", SizeLimit: strconv.Itoa(tmpBytes)}}}
	if ws := spec.Workspace; ws != nil {
		vols = append(vols, volume{Name: workspaceVolume, PersistentVolumeClaim: &claimSource{ClaimName: ws.Name}})
		c.VolumeMounts = append(c.VolumeMounts, volumeMount{Name: workspaceVolume, MountPath: ws.MountPath})
		workspaceOwner(psc)
	}
	annotations := map[string]string{annotWorkload: workload}
	for k, v := range spec.Labels {
		annotations[k] = v
	}
	return pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: meta{Name: spec.Name, Namespace: namespace, Labels: objectLabels(spec), Annotations: annotations},
		Spec: podSpec{
			Containers:                    []container{c},
			RestartPolicy:                 restartPolicyOf(spec.Restart.Mode),
			TerminationGracePeriodSeconds: &grace,
			// An agent gets no credentials for the API server, nor the
			// addresses of the cluster's Services.
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			SecurityContext:              psc,
			Volumes:                      vols,
		},
	}
}

// bytesQuantity writes n bytes as Kubernetes does: in the largest binary
// unit that divides it.
func bytesQuantity(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// workspaceOwner has the kubelet give a workspace to the agent's group
// (where the volume's driver lets it set ownership; most block and local
// volumes do), so an agent running as NonRootUser can write to a volume
// whose root the node made root's. An agent allowed root needs nothing.
// Only the root's ownership is checked on later mounts.
func workspaceOwner(psc *podSecurityContext) {
	if psc.RunAsGroup != nil {
		g := *psc.RunAsGroup
		psc.FSGroup, psc.FSGroupChangePolicy = &g, "OnRootMismatch"
	}
}

func nonRootIDs() (uid, gid int64) {
	u, g, _ := strings.Cut(warder.NonRootUser, ":")
	uid, _ = strconv.ParseInt(u, 10, 64)
	gid, _ = strconv.ParseInt(g, 10, 64)
	return uid, gid
}

// restartPolicyOf is a Pod's restartPolicy for a restart mode. Kubernetes
// has no bound on restarts, so on-failure:N restarts with the kubelet's
// back-off until Warder's crash-loop rule calls the agent failed.
func restartPolicyOf(m warder.RestartMode) string {
	switch m {
	case warder.RestartOnFailure:
		return "OnFailure"
	case warder.RestartUnlessStopped:
		return "Always"
	}
	return "Never"
}

// Waiting reasons that mean the container will not start without a change.
var startFailures = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// stateOf is the workload's state from its record and its Pod (nil while
// it has none). A record that wants its workload running with no Pod
// means the Pod was deleted behind Warder's back: the workload is gone,
// as a container removed outside Warder is.
func stateOf(rec secret, p *pod) (warder.WorkloadState, error) {
	st := warder.WorkloadState{ID: workloadID(rec), Name: rec.Metadata.Name, AgentID: rec.Metadata.Annotations[warder.LabelAgentID]}
	desired := rec.Metadata.Annotations[annotDesired]
	if p == nil || (p.Metadata.DeletionTimestamp != nil && desired == desiredStopped) {
		switch desired {
		case desiredCreated:
			st.Phase = warder.PhaseCreated
		case desiredStopped:
			an := rec.Metadata.Annotations
			st.Phase = warder.PhaseExited
			st.FinishedAt, _ = time.Parse(time.RFC3339Nano, an[annotStopped])
			st.ExitCode, _ = strconv.Atoi(an[annotExitCode])
			st.RestartCount, _ = strconv.Atoi(an[annotRestarts])
			st.OOMKilled = an[annotOOMKilled] == "true"
		default:
			return st, warder.Errorf(warder.ErrNotFound, "the pod of workload %s was deleted outside Warder", rec.Metadata.Name)
		}
		return st, nil
	}
	podState(&st, p)
	return st, nil
}

// podState fills st from a Pod's status.
func podState(st *warder.WorkloadState, p *pod) {
	st.Phase = warder.PhaseCreated
	if p.Status.Phase == "Unknown" || p.Status.Reason == "NodeLost" {
		st.Phase, st.Error = warder.PhaseExited, "the node running the agent was lost"
		return
	}
	if p.Status.Phase == "Failed" && len(p.Status.ContainerStatuses) == 0 {
		st.Phase, st.Error = warder.PhaseExited, strings.TrimSpace(p.Status.Reason+": "+p.Status.Message)
		return
	}
	var cs *containerStatus
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			cs = &p.Status.ContainerStatuses[i]
		}
	}
	if cs == nil {
		return // scheduled, not yet made
	}
	st.RestartCount = cs.RestartCount
	last := cs.LastState.Terminated
	// A Failed or Succeeded Pod is over (evicted, say): the kubelet starts
	// none of its containers again, whatever its restartPolicy.
	over := p.Status.Phase == "Failed" || p.Status.Phase == "Succeeded"
	switch {
	case cs.State.Running != nil:
		st.Phase, st.StartedAt = warder.PhaseRunning, cs.State.Running.StartedAt
		if p.Status.PodIP != "" && p.Metadata.DeletionTimestamp == nil {
			st.Endpoint = endpoint(p)
		} else if p.Metadata.DeletionTimestamp != nil {
			st.Phase = warder.PhaseExited // being stopped: the agent has been told to end
		}
	case cs.State.Terminated != nil:
		setExit(st, cs.State.Terminated)
		st.Phase = warder.PhaseExited
		if p.Metadata.DeletionTimestamp == nil && !over && restarts(p.Spec.RestartPolicy, st.ExitCode) {
			st.Phase = warder.PhaseRestarting // the kubelet starts it again
		}
	case cs.State.Waiting != nil && startFailures[cs.State.Waiting.Reason]:
		st.Phase, st.Error = warder.PhaseExited, cs.State.Waiting.Reason+": "+cs.State.Waiting.Message
	case cs.State.Waiting != nil && last != nil:
		// Exited, and the kubelet will start it again (CrashLoopBackOff
		// is the back-off between): restarting, as Docker's policy does.
		setExit(st, last)
		st.Phase = warder.PhaseRestarting
		if over {
			st.Phase = warder.PhaseExited
		}
	}
}

// restarts reports whether the kubelet restarts a container that exited
// with code under policy.
func restarts(policy string, code int) bool {
	return policy == "Always" || (policy == "OnFailure" && code != 0)
}

func setExit(st *warder.WorkloadState, t *terminated) {
	st.ExitCode, st.StartedAt, st.FinishedAt = t.ExitCode, t.StartedAt, t.FinishedAt
	st.OOMKilled = t.Reason == "OOMKilled"
}

// endpoint is where Warder reaches a running agent: its pod IP, which
// answers from any node and from any pod the NetworkPolicies allow.
func endpoint(p *pod) string {
	port := 0
	for _, c := range p.Spec.Containers {
		if c.Name == containerName && len(c.Ports) > 0 {
			port = c.Ports[0].ContainerPort
		}
	}
	if strings.Contains(p.Status.PodIP, ":") {
		return "[" + p.Status.PodIP + "]:" + strconv.Itoa(port)
	}
	return p.Status.PodIP + ":" + strconv.Itoa(port)
}
