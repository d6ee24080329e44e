package kubernetes

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// Table tests of the pure spec -> Secret/Pod conversion and of the state
// read back from a Pod's status, in the manner of docker/convert_test.go
// and docker/state_test.go: no cluster, only the objects.

// checkHardened holds for every agent Pod, whatever its spec: the Docker
// runtime's hardening in Kubernetes' words.
func checkHardened(t *testing.T, p pod) {
	t.Helper()
	if len(p.Spec.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(p.Spec.Containers))
	}
	c := p.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Privileged == nil || *sc.Privileged ||
		sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context = %+v", sc)
	}
	psc := p.Spec.SecurityContext
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod security context = %+v, want RuntimeDefault seccomp", psc)
	}
	if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken ||
		p.Spec.EnableServiceLinks == nil || *p.Spec.EnableServiceLinks {
		t.Error("an agent gets API credentials or Service addresses")
	}
	if p.Spec.HostUsers != nil || p.Spec.NodeName != "" {
		t.Errorf("pod spec sets hostUsers %v or nodeName %q", p.Spec.HostUsers, p.Spec.NodeName)
	}
	if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 10 {
		t.Errorf("termination grace = %v, want 10 s", g)
	}
	tmp := false
	for _, v := range p.Spec.Volumes {
		if v.Name == "tmp" {
			tmp = v.EmptyDir != nil && v.EmptyDir.Medium == "Memory" && v.EmptyDir.SizeLimit == "67108864"
		}
	}
	tmpMounted := false
	for _, m := range c.VolumeMounts {
		tmpMounted = tmpMounted || m.Name == "tmp" && m.MountPath == "/tmp"
	}
	if !tmp || !tmpMounted {
		t.Errorf("/tmp is not a 64 MiB memory volume: volumes %+v, mounts %+v", p.Spec.Volumes, c.VolumeMounts)
	}
	if c.Name != containerName || len(c.Command) != 0 || len(c.Args) != 0 {
		t.Errorf("container %q runs %v %v, want the image's own entrypoint", c.Name, c.Command, c.Args)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != p.Metadata.Name {
		t.Errorf("env is not read from the workload's own Secret: %+v", c.EnvFrom)
	}
}

// TestPodOfTable: each spec becomes a hardened Pod with its resources,
// restart policy, user, network label and workspace; the env, secrets
// included, is never in the Pod.
func TestPodOfTable(t *testing.T) {
	uid, gid := int64(65534), int64(65534)
	tests := []struct {
		name          string
		mod           func(*warder.WorkloadSpec)
		limits, reqs  map[string]string
		restart       string
		network       string
		runAsNonRoot  bool   // runAsUser/Group 65534 and runAsNonRoot
		claim         string // the workspace claim mounted, "" for none
		mountPath     string
		fsGroupForced bool
	}{
		{"default agent", nil,
			map[string]string{"memory": "512Mi", "cpu": "500m"}, map[string]string{"memory": "128Mi", "cpu": "50m"},
			"OnFailure", "internal", true, "", "", false},
		{"egress, unless-stopped, 1 GiB, 2 CPUs", func(s *warder.WorkloadSpec) {
			s.Internal, s.Restart, s.MemoryBytes, s.MilliCPUs = false, warder.RestartPolicy{Mode: warder.RestartUnlessStopped}, 1<<30, 2000
		}, map[string]string{"memory": "1Gi", "cpu": "2000m"}, map[string]string{"memory": "256Mi", "cpu": "200m"},
			"Always", "egress", true, "", "", false},
		{"unlimited", func(s *warder.WorkloadSpec) { s.MemoryBytes, s.MilliCPUs, s.Restart = 0, 0, warder.RestartPolicy{} },
			map[string]string{}, map[string]string{}, "Never", "internal", true, "", "", false},
		{"odd sizes: bytes, and a CPU request never 0", func(s *warder.WorkloadSpec) { s.MemoryBytes, s.MilliCPUs = 100_000_001, 5 },
			map[string]string{"memory": "100000001", "cpu": "5m"}, map[string]string{"memory": "25000000", "cpu": "1m"},
			"OnFailure", "internal", true, "", "", false},
		{"3.5 GiB, 1 TiB steps", func(s *warder.WorkloadSpec) { s.MemoryBytes, s.MilliCPUs = 3584<<20, 250 },
			map[string]string{"memory": "3584Mi", "cpu": "250m"}, map[string]string{"memory": "896Mi", "cpu": "25m"},
			"OnFailure", "internal", true, "", "", false},
		{"root allowed", func(s *warder.WorkloadSpec) { s.AllowRoot, s.Restart.Mode = true, warder.RestartNever },
			map[string]string{"memory": "512Mi", "cpu": "500m"}, map[string]string{"memory": "128Mi", "cpu": "50m"},
			"Never", "internal", false, "", "", false},
		{"workspace", func(s *warder.WorkloadSpec) {
			s.Workspace = &warder.WorkspaceSpec{Name: "warder-ws-a1", MountPath: warder.WorkspaceMountPath}
		}, map[string]string{"memory": "512Mi", "cpu": "500m"}, map[string]string{"memory": "128Mi", "cpu": "50m"},
			"OnFailure", "internal", true, "warder-ws-a1", warder.WorkspaceMountPath, true},
		{"workspace, root allowed: no fsGroup", func(s *warder.WorkloadSpec) {
			s.AllowRoot = true
			s.Workspace = &warder.WorkspaceSpec{Name: "warder-ws-a1", MountPath: "/work"}
		}, map[string]string{"memory": "512Mi", "cpu": "500m"}, map[string]string{"memory": "128Mi", "cpu": "50m"},
			"OnFailure", "internal", false, "warder-ws-a1", "/work", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec()
			spec.Env = map[string]string{"API_KEY": "s3cret-api-key", "OPENAI_API_KEY": "sk-test-0123456789"}
			if tt.mod != nil {
				tt.mod(&spec)
			}
			p := podOf("agents", spec, "uid-7")
			checkHardened(t, p)
			c := p.Spec.Containers[0]
			if p.APIVersion != "v1" || p.Kind != "Pod" || p.Metadata.Name != spec.Name || p.Metadata.Namespace != "agents" {
				t.Errorf("object = %s/%s %s in %s", p.APIVersion, p.Kind, p.Metadata.Name, p.Metadata.Namespace)
			}
			if p.Metadata.Annotations[annotWorkload] != "uid-7" {
				t.Errorf("annotations = %v, want the record's UID under %s", p.Metadata.Annotations, annotWorkload)
			}
			if !maps.Equal(c.Resources.Limits, tt.limits) || !maps.Equal(c.Resources.Requests, tt.reqs) {
				t.Errorf("resources = limits %v, requests %v; want %v, %v", c.Resources.Limits, c.Resources.Requests, tt.limits, tt.reqs)
			}
			if p.Spec.RestartPolicy != tt.restart {
				t.Errorf("restartPolicy = %q, want %q", p.Spec.RestartPolicy, tt.restart)
			}
			if got := p.Metadata.Labels[labelNetwork]; got != tt.network {
				t.Errorf("network label = %q, want %q", got, tt.network)
			}
			if c.Image != spec.Image || c.ImagePullPolicy != "IfNotPresent" || len(c.Ports) != 1 ||
				c.Ports[0].ContainerPort != spec.Port || c.Ports[0].Protocol != "TCP" {
				t.Errorf("container = image %q (%s), ports %+v", c.Image, c.ImagePullPolicy, c.Ports)
			}
			psc := p.Spec.SecurityContext
			if tt.runAsNonRoot {
				if psc.RunAsUser == nil || *psc.RunAsUser != uid || psc.RunAsGroup == nil || *psc.RunAsGroup != gid || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
					t.Errorf("pod security context = %+v, want %d:%d, non-root", psc, uid, gid)
				}
			} else if psc.RunAsUser != nil || psc.RunAsGroup != nil || psc.RunAsNonRoot != nil {
				t.Errorf("root allowed, yet the pod forces a user: %+v", psc)
			}
			if (psc.FSGroup != nil) != tt.fsGroupForced || (tt.fsGroupForced && (*psc.FSGroup != gid || psc.FSGroupChangePolicy != "OnRootMismatch")) {
				t.Errorf("fsGroup = %v (%q), want set: %v", psc.FSGroup, psc.FSGroupChangePolicy, tt.fsGroupForced)
			}
			var claim, mounted string
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					claim = v.PersistentVolumeClaim.ClaimName
				}
			}
			for _, m := range c.VolumeMounts {
				if m.Name == workspaceVolume && !m.ReadOnly {
					mounted = m.MountPath
				}
			}
			if claim != tt.claim || mounted != tt.mountPath {
				t.Errorf("workspace = claim %q at %q, want %q at %q", claim, mounted, tt.claim, tt.mountPath)
			}
			raw, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range spec.Env {
				if strings.Contains(string(raw), v) || strings.Contains(string(raw), k) {
					t.Errorf("the Pod holds env var %s or its value:\n%s", k, raw)
				}
			}
		})
	}
}

// TestPodOfOwnsItsMaps: the Pod's labels and annotations are its own, not
// the spec's map, so a later change to either leaves the other alone.
func TestPodOfOwnsItsMaps(t *testing.T) {
	spec := testSpec()
	p := podOf("ns", spec, "u")
	spec.Labels[warder.LabelAgentID] = "changed"
	p.Metadata.Annotations["x"] = "y"
	if p.Metadata.Labels[warder.LabelAgentID] != "a1" || p.Metadata.Annotations[warder.LabelAgentID] != "a1" {
		t.Errorf("the Pod's metadata follows the spec's map: %v %v", p.Metadata.Labels, p.Metadata.Annotations)
	}
	if _, ok := spec.Labels["x"]; ok {
		t.Error("the spec's labels follow the Pod's annotations")
	}
}

// TestObjectLabels: labels come from Warder's ids and the deployment's
// name; a value Kubernetes would refuse as a label value is left out (it
// stays an annotation); the network label follows Internal.
func TestObjectLabels(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name     string
		labels   map[string]string
		internal bool
		want     map[string]string
		absent   []string
	}{
		{"ids", map[string]string{warder.LabelManaged: "warder_network", warder.LabelAgentID: "0b6f3c1e-9d2a-4c1e-8f00-1a2b3c4d5e6f", warder.LabelUserID: "U1"}, false,
			map[string]string{"app.kubernetes.io/managed-by": "warder", warder.LabelManaged: "warder_network",
				warder.LabelAgentID: "0b6f3c1e-9d2a-4c1e-8f00-1a2b3c4d5e6f", warder.LabelUserID: "U1", labelNetwork: "egress"}, nil},
		{"internal", map[string]string{warder.LabelManaged: "n", warder.LabelAgentID: "a", warder.LabelUserID: "u"}, true,
			map[string]string{warder.LabelManaged: "n", warder.LabelAgentID: "a", warder.LabelUserID: "u", labelNetwork: "internal"}, nil},
		{"other labels are annotations only", map[string]string{warder.LabelManaged: "n", warder.LabelAgentID: "a", warder.LabelUserID: "u",
			warder.LabelAgentName: "plain", warder.LabelPool: "p"}, false,
			map[string]string{warder.LabelAgentID: "a"}, []string{warder.LabelAgentName, warder.LabelPool}},
		{"63 characters is a label", map[string]string{warder.LabelManaged: "n", warder.LabelAgentID: long[:63], warder.LabelUserID: "u"}, false,
			map[string]string{warder.LabelAgentID: long[:63]}, nil},
		{"64 characters is not", map[string]string{warder.LabelManaged: "n", warder.LabelAgentID: long, warder.LabelUserID: "u"}, false,
			map[string]string{warder.LabelManaged: "n"}, []string{warder.LabelAgentID}},
		{"a space, a leading dash, a trailing dot", map[string]string{warder.LabelManaged: "my net", warder.LabelAgentID: "-a", warder.LabelUserID: "u."}, false,
			map[string]string{labelNetwork: "egress"}, []string{warder.LabelManaged, warder.LabelAgentID, warder.LabelUserID}},
		{"a slash", map[string]string{warder.LabelManaged: "n", warder.LabelAgentID: "a/b", warder.LabelUserID: "u"}, false,
			map[string]string{warder.LabelUserID: "u"}, []string{warder.LabelAgentID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec()
			spec.Labels, spec.Internal = tt.labels, tt.internal
			got := objectLabels(spec)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("label %s = %q, want none", k, v)
				}
			}
			for k, v := range got {
				if len(v) > 63 || !labelValueRe.MatchString(v) {
					t.Errorf("label %s = %q is no valid label value", k, v)
				}
			}
			// The record and the Pod carry the same labels, and every
			// label of the spec as an annotation.
			rec, err := recordOf("ns", spec)
			if err != nil {
				t.Fatal(err)
			}
			p := podOf("ns", spec, "u")
			if !maps.Equal(rec.Metadata.Labels, got) || !maps.Equal(p.Metadata.Labels, got) {
				t.Errorf("labels differ: record %v, pod %v, objectLabels %v", rec.Metadata.Labels, p.Metadata.Labels, got)
			}
			for k, v := range tt.labels {
				if rec.Metadata.Annotations[k] != v || p.Metadata.Annotations[k] != v {
					t.Errorf("annotation %s: record %q, pod %q, want %q", k, rec.Metadata.Annotations[k], p.Metadata.Annotations[k], v)
				}
			}
		})
	}
}

// TestRecordOfTable: the record is an Opaque Secret whose data is the env
// and whose spec annotation is everything else; specOf reads back what
// recordOf wrote, and a record without a spec is a clear error.
func TestRecordOfTable(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*warder.WorkloadSpec)
	}{
		{"default", nil},
		{"no env", func(s *warder.WorkloadSpec) { s.Env = nil }},
		{"env that looks like JSON", func(s *warder.WorkloadSpec) { s.Env = map[string]string{"TOKEN": `{"a":"b"}`, "EMPTY": ""} }},
		{"workspace, root, egress", func(s *warder.WorkloadSpec) {
			s.AllowRoot, s.Internal = true, false
			s.Workspace = &warder.WorkspaceSpec{Name: "warder-ws-a1", MountPath: "/data", SizeBytes: 1 << 30}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec()
			spec.Env = map[string]string{"API_KEY": "s3cret-api-key", "OPENAI_API_KEY": "sk-test-0123456789"}
			if tt.mod != nil {
				tt.mod(&spec)
			}
			rec, err := recordOf("agents", spec)
			if err != nil {
				t.Fatal(err)
			}
			if rec.APIVersion != "v1" || rec.Kind != "Secret" || rec.Type != "Opaque" || rec.Metadata.Name != spec.Name || rec.Metadata.Namespace != "agents" {
				t.Errorf("record = %s/%s %s %s in %s", rec.APIVersion, rec.Kind, rec.Type, rec.Metadata.Name, rec.Metadata.Namespace)
			}
			if rec.Metadata.Annotations[annotDesired] != desiredCreated {
				t.Errorf("desired = %q, want %q", rec.Metadata.Annotations[annotDesired], desiredCreated)
			}
			if !maps.Equal(rec.StringData, spec.Env) || rec.Data != nil {
				t.Errorf("secret data = %v / %v, want the env %v", rec.StringData, rec.Data, spec.Env)
			}
			for k, v := range spec.Env {
				for ak, av := range rec.Metadata.Annotations {
					if v != "" && strings.Contains(av, v) || strings.Contains(av, k) {
						t.Errorf("annotation %s holds env var %s", ak, k)
					}
				}
			}
			back, err := specOf(rec)
			if err != nil {
				t.Fatal(err)
			}
			want := spec
			want.Env = nil
			wj, _ := json.Marshal(want)
			bj, _ := json.Marshal(back)
			if string(wj) != string(bj) {
				t.Errorf("spec back =\n %s\nwant\n %s", bj, wj)
			}
		})
	}
	for _, bad := range []map[string]string{nil, {annotSpec: ""}, {annotSpec: "{not json"}} {
		_, err := specOf(secret{Metadata: meta{Name: "warder-agent-x", Annotations: bad}})
		if err == nil || !strings.Contains(err.Error(), "warder-agent-x") {
			t.Errorf("specOf(%v) = %v, want an error naming the workload", bad, err)
		}
	}
}

// agentPod is an agent Pod, as the API server returns it, with the status
// and restart policy given.
func agentPod(t *testing.T, policy string, deleting bool, status string) *pod {
	t.Helper()
	del := ""
	if deleting {
		del = `,"deletionTimestamp":"2026-12-01T10:00:00Z"`
	}
	raw := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"warder-agent-a1","uid":"p1"` + del + `},
		"spec":{"restartPolicy":"` + policy + `","containers":[{"name":"agent","image":"i","ports":[{"name":"agent","containerPort":8000}]}]},
		"status":` + status + `}`
	var p pod
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	return &p
}

// TestPodStateTable maps each Pod phase, pod reason and container state
// to the phase Warder reports, with the exit, the error and the endpoint.
func TestPodStateTable(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	t1 := time.Date(2026, 12, 1, 9, 5, 0, 0, time.UTC)
	running := `{"running":{"startedAt":"2026-12-01T09:00:00Z"}}`
	exit := func(code int, reason string) string {
		b, _ := json.Marshal(map[string]any{"terminated": map[string]any{"exitCode": code, "reason": reason,
			"startedAt": "2026-12-01T09:00:00Z", "finishedAt": "2026-12-01T09:05:00Z"}})
		return string(b)
	}
	waiting := func(reason, msg string) string {
		b, _ := json.Marshal(map[string]any{"waiting": map[string]any{"reason": reason, "message": msg}})
		return string(b)
	}
	status := func(phase, ip string, restarts int, state, last string) string {
		if last == "" {
			last = "{}"
		}
		b, _ := json.Marshal(map[string]any{"phase": phase, "podIP": ip, "containerStatuses": []any{
			map[string]any{"name": "agent", "restartCount": restarts, "state": json.RawMessage(state), "lastState": json.RawMessage(last)}}})
		return string(b)
	}
	tests := []struct {
		name     string
		policy   string
		deleting bool
		status   string
		want     warder.WorkloadState
	}{
		{"pending, not scheduled", "Always", false, `{"phase":"Pending"}`, warder.WorkloadState{Phase: warder.PhaseCreated}},
		{"no status at all", "Never", false, `{}`, warder.WorkloadState{Phase: warder.PhaseCreated}},
		{"pulling the image", "Always", false, status("Pending", "", 0, waiting("ContainerCreating", ""), ""), warder.WorkloadState{Phase: warder.PhaseCreated}},
		{"another container's status only", "Always", false,
			`{"phase":"Pending","containerStatuses":[{"name":"sidecar","state":{"running":{"startedAt":"2026-12-01T09:00:00Z"}}}]}`,
			warder.WorkloadState{Phase: warder.PhaseCreated}},
		{"running", "Always", false, status("Running", "10.244.1.9", 0, running, ""),
			warder.WorkloadState{Phase: warder.PhaseRunning, StartedAt: t0, Endpoint: "10.244.1.9:8000"}},
		{"running on IPv6", "Never", false, status("Running", "fd00:10:244::9", 0, running, ""),
			warder.WorkloadState{Phase: warder.PhaseRunning, StartedAt: t0, Endpoint: "[fd00:10:244::9]:8000"}},
		{"running, no IP yet", "Never", false, status("Running", "", 0, running, ""),
			warder.WorkloadState{Phase: warder.PhaseRunning, StartedAt: t0}},
		{"running after restarts", "Always", false, status("Running", "10.0.0.1", 3, running, exit(1, "Error")),
			warder.WorkloadState{Phase: warder.PhaseRunning, StartedAt: t0, RestartCount: 3, Endpoint: "10.0.0.1:8000"}},
		{"running, being deleted: told to end, no endpoint", "Always", true, status("Running", "10.0.0.1", 0, running, ""),
			warder.WorkloadState{Phase: warder.PhaseExited, StartedAt: t0}},
		{"exited 0 under Never", "Never", false, status("Succeeded", "10.0.0.1", 0, exit(0, "Completed"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, StartedAt: t0, FinishedAt: t1}},
		{"exited 2 under Never", "Never", false, status("Failed", "10.0.0.1", 0, exit(2, "Error"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 2, StartedAt: t0, FinishedAt: t1}},
		{"OOM-killed under Never", "Never", false, status("Failed", "10.0.0.1", 0, exit(137, "OOMKilled"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137, OOMKilled: true, StartedAt: t0, FinishedAt: t1}},
		{"exited 0 under OnFailure", "OnFailure", false, status("Succeeded", "10.0.0.1", 0, exit(0, "Completed"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, StartedAt: t0, FinishedAt: t1}},
		{"exited 1 under OnFailure, not yet waiting", "OnFailure", false, status("Running", "10.0.0.1", 0, exit(1, "Error"), ""),
			warder.WorkloadState{Phase: warder.PhaseRestarting, ExitCode: 1, StartedAt: t0, FinishedAt: t1}},
		{"exited 0 under Always", "Always", false, status("Running", "10.0.0.1", 1, exit(0, "Completed"), ""),
			warder.WorkloadState{Phase: warder.PhaseRestarting, RestartCount: 1, StartedAt: t0, FinishedAt: t1}},
		{"exited under Always, being deleted", "Always", true, status("Running", "10.0.0.1", 0, exit(143, "Error"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 143, StartedAt: t0, FinishedAt: t1}},
		{"crash loop", "Always", false, status("Running", "10.0.0.1", 5, waiting("CrashLoopBackOff", "back-off 40s"), exit(3, "Error")),
			warder.WorkloadState{Phase: warder.PhaseRestarting, ExitCode: 3, RestartCount: 5, StartedAt: t0, FinishedAt: t1}},
		{"crash loop of OOM kills", "OnFailure", false, status("Running", "10.0.0.1", 2, waiting("CrashLoopBackOff", ""), exit(137, "OOMKilled")),
			warder.WorkloadState{Phase: warder.PhaseRestarting, ExitCode: 137, OOMKilled: true, RestartCount: 2, StartedAt: t0, FinishedAt: t1}},
		// A Failed or Succeeded Pod is over: the kubelet starts none of
		// its containers again, whatever its restart policy says.
		{"evicted under Always", "Always", false,
			`{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory.","containerStatuses":[{"name":"agent",
				"state":{"terminated":{"exitCode":137,"reason":"ContainerStatusUnknown","startedAt":"2026-12-01T09:00:00Z","finishedAt":"2026-12-01T09:05:00Z"}}}]}`,
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137, StartedAt: t0, FinishedAt: t1}},
		{"deadline exceeded under OnFailure", "OnFailure", false, status("Failed", "10.0.0.1", 0, exit(1, "Error"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 1, StartedAt: t0, FinishedAt: t1}},
		{"failed, waiting with a last exit", "Always", false, status("Failed", "", 4, waiting("CrashLoopBackOff", ""), exit(3, "Error")),
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 3, RestartCount: 4, StartedAt: t0, FinishedAt: t1}},
		{"rejected before any container", "Always", false, `{"phase":"Failed","reason":"OutOfmemory","message":"Pod Node didn't have enough resource"}`,
			warder.WorkloadState{Phase: warder.PhaseExited, Error: "OutOfmemory: Pod Node didn't have enough resource"}},
		{"node lost (phase Unknown)", "Always", false, `{"phase":"Unknown"}`,
			warder.WorkloadState{Phase: warder.PhaseExited, Error: "the node running the agent was lost"}},
		{"node lost (reason)", "Always", false, `{"phase":"Running","reason":"NodeLost","containerStatuses":[{"name":"agent","state":` + running + `}]}`,
			warder.WorkloadState{Phase: warder.PhaseExited, Error: "the node running the agent was lost"}},
	}
	for _, reason := range []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError"} {
		tests = append(tests, struct {
			name     string
			policy   string
			deleting bool
			status   string
			want     warder.WorkloadState
		}{"cannot start: " + reason, "Always", false, status("Pending", "", 0, waiting(reason, "why"), ""),
			warder.WorkloadState{Phase: warder.PhaseExited, Error: reason + ": why"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := agentPod(t, tt.policy, tt.deleting, tt.status)
			var got warder.WorkloadState
			podState(&got, p)
			if !got.StartedAt.Equal(tt.want.StartedAt) || !got.FinishedAt.Equal(tt.want.FinishedAt) {
				t.Errorf("times = %v, %v; want %v, %v", got.StartedAt, got.FinishedAt, tt.want.StartedAt, tt.want.FinishedAt)
			}
			got.StartedAt, got.FinishedAt = tt.want.StartedAt, tt.want.FinishedAt
			if got != tt.want {
				t.Errorf("podState =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestStateOfRecordTable: the record's desired state decides what a
// workload without a Pod is, and a Pod being deleted after a stop; the
// id, name and agent always come from the record.
func TestStateOfRecordTable(t *testing.T) {
	stoppedAt := time.Date(2026, 12, 1, 9, 30, 0, 123, time.UTC)
	rec := func(desired string, extra map[string]string) secret {
		an := map[string]string{annotDesired: desired, warder.LabelAgentID: "a1"}
		maps.Copy(an, extra)
		return secret{Metadata: meta{Name: "warder-agent-a1", UID: "r1", Annotations: an}}
	}
	runningPod := func(deleting bool) *pod {
		return agentPod(t, "Always", deleting, `{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[{"name":"agent",
			"state":{"running":{"startedAt":"2026-12-01T09:00:00Z"}}}]}`)
	}
	tests := []struct {
		name    string
		rec     secret
		pod     *pod
		want    warder.WorkloadState
		wantErr error
	}{
		{"created, no pod", rec(desiredCreated, nil), nil, warder.WorkloadState{Phase: warder.PhaseCreated}, nil},
		{"stopped, no pod", rec(desiredStopped, map[string]string{annotStopped: stoppedAt.Format(time.RFC3339Nano)}), nil,
			warder.WorkloadState{Phase: warder.PhaseExited, FinishedAt: stoppedAt}, nil},
		{"stopped, its last exit kept", rec(desiredStopped, map[string]string{annotExitCode: "137", annotRestarts: "6", annotOOMKilled: "true"}), nil,
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 137, RestartCount: 6, OOMKilled: true}, nil},
		{"stopped, unreadable annotations are zero", rec(desiredStopped, map[string]string{annotStopped: "yesterday", annotExitCode: "x", annotOOMKilled: "yes"}), nil,
			warder.WorkloadState{Phase: warder.PhaseExited}, nil},
		{"stopped, its pod still going", rec(desiredStopped, map[string]string{annotExitCode: "143"}), runningPod(true),
			warder.WorkloadState{Phase: warder.PhaseExited, ExitCode: 143}, nil},
		{"running, its pod being deleted by someone else", rec(desiredRunning, nil), runningPod(true),
			warder.WorkloadState{Phase: warder.PhaseExited, StartedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, nil},
		{"running", rec(desiredRunning, nil), runningPod(false),
			warder.WorkloadState{Phase: warder.PhaseRunning, Endpoint: "10.0.0.1:8000", StartedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, nil},
		{"running, its pod deleted outside Warder", rec(desiredRunning, nil), nil, warder.WorkloadState{}, warder.ErrNotFound},
		{"no desired state, no pod", rec("", nil), nil, warder.WorkloadState{}, warder.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stateOf(tt.rec, tt.pod)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got.ID != "warder-agent-a1/r1" || got.Name != "warder-agent-a1" || got.AgentID != "a1" {
				t.Errorf("identity = %q %q %q", got.ID, got.Name, got.AgentID)
			}
			if err != nil {
				return
			}
			tt.want.ID, tt.want.Name, tt.want.AgentID = got.ID, got.Name, got.AgentID
			if !got.StartedAt.Equal(tt.want.StartedAt) || !got.FinishedAt.Equal(tt.want.FinishedAt) {
				t.Errorf("times = %v, %v; want %v, %v", got.StartedAt, got.FinishedAt, tt.want.StartedAt, tt.want.FinishedAt)
			}
			got.StartedAt, got.FinishedAt = tt.want.StartedAt, tt.want.FinishedAt
			if got != tt.want {
				t.Errorf("stateOf =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestWorkloadIDTable: an id is the record's name and UID; a bare name
// parses with no UID.
func TestWorkloadIDTable(t *testing.T) {
	for _, tt := range []struct{ id, name, uid string }{
		{"warder-agent-a1/0b6f-1", "warder-agent-a1", "0b6f-1"},
		{"warder-agent-a1", "warder-agent-a1", ""},
		{"w/", "w", ""},
		{"", "", ""},
	} {
		if name, uid := splitID(tt.id); name != tt.name || uid != tt.uid {
			t.Errorf("splitID(%q) = %q, %q; want %q, %q", tt.id, name, uid, tt.name, tt.uid)
		}
	}
	rec := secret{Metadata: meta{Name: "warder-agent-a1", UID: "u-9"}}
	if name, uid := splitID(workloadID(rec)); name != "warder-agent-a1" || uid != "u-9" {
		t.Errorf("workloadID does not split back: %q, %q", name, uid)
	}
}
