package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

func testSpec() warder.WorkloadSpec {
	return warder.WorkloadSpec{
		Name: "warder-agent-a1", AgentID: "a1", Image: "warder/agent:latest",
		Env:         map[string]string{"AGENT_ID": "a1", "API_KEY": "s3cret"},
		Labels:      map[string]string{warder.LabelManaged: "warder_network", warder.LabelAgentID: "a1", warder.LabelAgentName: "My Agent", warder.LabelUserID: "u1"},
		MemoryBytes: 512 << 20, MilliCPUs: 500, Port: 8000, Internal: true,
		Restart: warder.RestartPolicy{Mode: warder.RestartOnFailure, MaxRetries: 3},
	}
}

func TestPodOfIsHardened(t *testing.T) {
	p := podOf("ns", testSpec(), "uid-1")
	c := p.Spec.Containers[0]
	sc := c.SecurityContext
	if *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || *sc.Privileged || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context = %+v", sc)
	}
	psc := p.Spec.SecurityContext
	if *psc.RunAsUser != 65534 || *psc.RunAsGroup != 65534 || !*psc.RunAsNonRoot || psc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod security context = %+v", psc)
	}
	if *p.Spec.AutomountServiceAccountToken || *p.Spec.EnableServiceLinks {
		t.Error("an agent gets API credentials or Service addresses")
	}
	if c.Resources.Limits["memory"] != "512Mi" || c.Resources.Limits["cpu"] != "500m" || c.Resources.Requests["cpu"] != "50m" || c.Resources.Requests["memory"] != "128Mi" {
		t.Errorf("resources = %+v", c.Resources)
	}
	if p.Spec.RestartPolicy != "OnFailure" || c.ImagePullPolicy != "IfNotPresent" || c.Ports[0].ContainerPort != 8000 {
		t.Errorf("pod = %+v", p.Spec)
	}
	if c.EnvFrom[0].SecretRef.Name != "warder-agent-a1" {
		t.Error("env is not read from the workload's Secret")
	}
	if p.Metadata.Labels[labelNetwork] != "internal" || p.Metadata.Labels[warder.LabelAgentID] != "a1" {
		t.Errorf("labels = %v", p.Metadata.Labels)
	}
	if _, ok := p.Metadata.Labels[warder.LabelAgentName]; ok {
		t.Error("an agent name with a space became a label value")
	}
	if p.Metadata.Annotations[warder.LabelAgentName] != "My Agent" {
		t.Errorf("annotations = %v", p.Metadata.Annotations)
	}
	root := testSpec()
	root.AllowRoot = true
	if psc := podOf("ns", root, "uid-1").Spec.SecurityContext; psc.RunAsUser != nil || psc.RunAsNonRoot != nil {
		t.Errorf("allowed root, yet the pod forces a user: %+v", psc)
	}
}

// TestPodOfMountsWorkspace: the workspace claim is mounted at its path,
// owned by the agent's group, and only the root checked on later mounts;
// an agent allowed root gets no fsGroup.
func TestPodOfMountsWorkspace(t *testing.T) {
	spec := testSpec()
	spec.Workspace = &warder.WorkspaceSpec{Name: "warder-ws-a1", MountPath: warder.WorkspaceMountPath}
	p := podOf("ns", spec, "uid-1")
	var claimName string
	for _, v := range p.Spec.Volumes {
		if v.Name == workspaceVolume && v.PersistentVolumeClaim != nil {
			claimName = v.PersistentVolumeClaim.ClaimName
		}
	}
	mounted := false
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		mounted = mounted || m.Name == workspaceVolume && m.MountPath == "/data" && !m.ReadOnly
	}
	psc := p.Spec.SecurityContext
	if claimName != "warder-ws-a1" || !mounted || psc.FSGroup == nil || *psc.FSGroup != 65534 || psc.FSGroupChangePolicy != "OnRootMismatch" {
		t.Fatalf("claim %q, mounted %v, security %+v", claimName, mounted, psc)
	}
	spec.AllowRoot = true
	if psc := podOf("ns", spec, "uid-1").Spec.SecurityContext; psc.FSGroup != nil {
		t.Fatalf("an agent allowed root has fsGroup %d", *psc.FSGroup)
	}
	if p := podOf("ns", testSpec(), "uid-1"); len(p.Spec.Volumes) != 1 {
		t.Fatalf("no workspace, volumes %+v", p.Spec.Volumes)
	}
}

func TestRecordKeepsSpecWithoutEnv(t *testing.T) {
	rec, err := recordOf("ns", testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Metadata.Annotations[annotSpec], "s3cret") {
		t.Error("the record's annotation holds an env value")
	}
	if rec.StringData["API_KEY"] != "s3cret" {
		t.Error("the env is not in the Secret's data")
	}
	got, err := specOf(rec)
	if err != nil || got.Image != "warder/agent:latest" || got.MemoryBytes != 512<<20 || got.Restart.Mode != warder.RestartOnFailure {
		t.Errorf("spec back = %+v, %v", got, err)
	}
}

func TestRestartPolicyOf(t *testing.T) {
	for mode, want := range map[warder.RestartMode]string{warder.RestartNever: "Never", warder.RestartOnFailure: "OnFailure", warder.RestartUnlessStopped: "Always", "": "Never"} {
		if got := restartPolicyOf(mode); got != want {
			t.Errorf("%q: %s, want %s", mode, got, want)
		}
	}
}

func TestStateOf(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	rec := func(desired string) secret {
		return secret{Metadata: meta{Name: "w", Annotations: map[string]string{annotDesired: desired, warder.LabelAgentID: "a1", annotStopped: now.Format(time.RFC3339Nano)}}}
	}
	running := func() *pod {
		p := podOf("ns", testSpec(), "uid-1")
		p.Status = podStatus{Phase: "Running", PodIP: "10.244.0.7", ContainerStatuses: []containerStatus{{Name: containerName}}}
		p.Status.ContainerStatuses[0].State.Running = &struct {
			StartedAt time.Time `json:"startedAt"`
		}{now}
		return &p
	}
	withExit := func(r secret) secret {
		r.Metadata.Annotations[annotExitCode], r.Metadata.Annotations[annotRestarts], r.Metadata.Annotations[annotOOMKilled] = "4", "3", "false"
		return r
	}
	exited := func(code int, reason string, restarting bool) *pod {
		p := running()
		cs := &p.Status.ContainerStatuses[0]
		cs.State.Running = nil
		t := &terminated{ExitCode: code, Reason: reason, FinishedAt: now}
		if restarting {
			cs.RestartCount = 4
			cs.LastState.Terminated = t
			cs.State.Waiting = &struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
			}{"CrashLoopBackOff", "back-off"}
		} else {
			cs.State.Terminated = t
		}
		return p
	}
	never := func(p *pod) *pod { p.Spec.RestartPolicy = "Never"; return p }
	pulling := running()
	pulling.Status.ContainerStatuses[0].State.Running = nil
	pulling.Status.ContainerStatuses[0].State.Waiting = &struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}{"ErrImagePull", "not found"}
	lost := running()
	lost.Status.Phase = "Unknown"

	for _, tc := range []struct {
		name  string
		rec   secret
		pod   *pod
		phase warder.Phase
		check func(warder.WorkloadState) bool
	}{
		{"created", rec(desiredCreated), nil, warder.PhaseCreated, nil},
		{"stopped", rec(desiredStopped), nil, warder.PhaseExited, func(s warder.WorkloadState) bool { return s.FinishedAt.Equal(now) }},
		{"given up", withExit(rec(desiredStopped)), nil, warder.PhaseExited, func(s warder.WorkloadState) bool {
			return s.ExitCode == 4 && s.RestartCount == 3 && !s.OOMKilled
		}},
		{"running", rec(desiredRunning), running(), warder.PhaseRunning, func(s warder.WorkloadState) bool { return s.Endpoint == "10.244.0.7:8000" }},
		{"exited 3", rec(desiredRunning), never(exited(3, "Error", false)), warder.PhaseExited, func(s warder.WorkloadState) bool { return s.ExitCode == 3 && !s.OOMKilled && s.Endpoint == "" }},
		{"oom", rec(desiredRunning), never(exited(137, "OOMKilled", false)), warder.PhaseExited, func(s warder.WorkloadState) bool { return s.OOMKilled }},
		{"crash loop", rec(desiredRunning), exited(1, "Error", true), warder.PhaseRestarting, func(s warder.WorkloadState) bool { return s.RestartCount == 4 && s.ExitCode == 1 }},
		{"exited, to be restarted", rec(desiredRunning), exited(3, "Error", false), warder.PhaseRestarting, nil},
		{"exited 0 under on-failure", rec(desiredRunning), exited(0, "Completed", false), warder.PhaseExited, nil},
		{"bad image", rec(desiredRunning), pulling, warder.PhaseExited, func(s warder.WorkloadState) bool { return strings.HasPrefix(s.Error, "ErrImagePull") }},
		{"node lost", rec(desiredRunning), lost, warder.PhaseExited, func(s warder.WorkloadState) bool { return s.Error != "" }},
	} {
		st, err := stateOf(tc.rec, tc.pod)
		if err != nil || st.Phase != tc.phase || (tc.check != nil && !tc.check(st)) {
			t.Errorf("%s: %+v, %v", tc.name, st, err)
		}
	}
	if _, err := stateOf(rec(desiredRunning), nil); !errors.Is(err, warder.ErrNotFound) {
		t.Errorf("a pod deleted behind Warder's back: %v, want ErrNotFound", err)
	}
}

func TestReadLinesCutsLongLines(t *testing.T) {
	long := strings.Repeat("é", warder.MaxLogLineBytes) // 2 bytes each
	var got []string
	err := readLines(strings.NewReader("one\r\n"+long+"\nthree"), func(l string) error { got = append(got, l); return nil })
	if err != nil || len(got) != 3 || got[0] != "one" || got[2] != "three" {
		t.Fatalf("lines = %d %v", len(got), err)
	}
	if !strings.HasSuffix(got[1], warder.LogLineCut) || len(got[1]) > warder.MaxLogLineBytes+len(warder.LogLineCut) || !strings.HasPrefix(got[1], "éé") {
		t.Errorf("long line: %d bytes", len(got[1]))
	}
	if strings.ContainsRune(got[1], '\uFFFD') {
		t.Error("cut inside a character")
	}
}

func TestDNSName(t *testing.T) {
	if got := dnsName("warder-Warder_Network"); got != "warder-warder-network" {
		t.Errorf("dnsName = %q", got)
	}
}

func TestBytesQuantity(t *testing.T) {
	for n, want := range map[int64]string{512 << 20: "512Mi", 1 << 30: "1Gi", 6<<20 + 1: "6291457", 1536 << 10: "1536Ki"} {
		if got := bytesQuantity(n); got != want {
			t.Errorf("%d: %s, want %s", n, got, want)
		}
	}
}

// TestContainerStatusJSON reads a container status as the API server
// writes it: the last exit is under "lastState".
func TestContainerStatusJSON(t *testing.T) {
	raw := `{"name":"agent","restartCount":2,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
	  "lastState":{"terminated":{"exitCode":4,"reason":"Error","finishedAt":"2026-11-30T07:00:00Z"}}}`
	var cs containerStatus
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		t.Fatal(err)
	}
	p := podOf("ns", testSpec(), "u")
	p.Spec.RestartPolicy = "Always"
	p.Status.ContainerStatuses = []containerStatus{cs}
	var st warder.WorkloadState
	podState(&st, &p)
	if st.Phase != warder.PhaseRestarting || st.ExitCode != 4 || st.RestartCount != 2 {
		t.Errorf("state = %+v", st)
	}
}

// TestSummaryCache: one fetch serves every caller for a node within the
// TTL; nodes are apart; a failed fetch is not kept.
func TestSummaryCache(t *testing.T) {
	var c summaryCache
	fetches := 0
	fetch := func(context.Context) (*summary, error) { fetches++; return &summary{}, nil }
	for range 5 {
		if _, err := c.get(context.Background(), "a", fetch); err != nil {
			t.Fatal(err)
		}
	}
	c.get(context.Background(), "b", fetch)
	if fetches != 2 {
		t.Fatalf("%d fetches for 6 reads of 2 nodes, want 2", fetches)
	}
	failing := func(context.Context) (*summary, error) { return nil, errors.New("down") }
	if _, err := c.get(context.Background(), "c", failing); err == nil {
		t.Fatal("a failed fetch was answered")
	}
	c.get(context.Background(), "c", fetch)
	if fetches != 3 {
		t.Fatalf("a failed fetch was kept: %d fetches", fetches)
	}
}

// TestOwnNamespace: the control plane's namespace is the pod's own when
// Warder uses the pod's credentials and its service account names one;
// otherwise the fallback (the agents' namespace).
func TestOwnNamespace(t *testing.T) {
	dir := t.TempDir()
	if got := ownNamespace("", dir, "agents"); got != "agents" {
		t.Errorf("no namespace file: %q, want the fallback", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "namespace"), []byte("warder-system\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ownNamespace("", dir, "agents"); got != "warder-system" {
		t.Errorf("in the cluster: %q, want warder-system", got)
	}
	if got := ownNamespace("/etc/kubeconfig", dir, "agents"); got != "agents" {
		t.Errorf("with a kubeconfig: %q, want the fallback", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "namespace"), []byte("Not A Namespace"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ownNamespace("", dir, "agents"); got != "agents" {
		t.Errorf("a file that names no namespace: %q, want the fallback", got)
	}
	for ns, want := range map[string]bool{"warder-agents": true, "a": true, "-a": false, "a-": false, "A": false, "a_b": false, strings.Repeat("a", 64): false} {
		if ValidNamespace(ns) != want {
			t.Errorf("ValidNamespace(%q) = %v", ns, !want)
		}
	}
}
