package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
)

// The end-to-end tests with WARDER_RUNTIME=kubernetes, on the real test
// cluster (kubernetes/testcluster); they skip without one unless
// WARDER_REQUIRE_KUBERNETES=1.

// TestKubernetesWalkthrough is the seed's walk-through on Kubernetes, plus
// what each step did to the real Pod: create, start, logs, stats, chat,
// proxy, stop, restart, delete.
func TestKubernetesWalkthrough(t *testing.T) {
	t.Parallel()
	ts, cluster := e2etest.NewKubernetesServer(t, nil)
	apitest.Register(t, ts.URL, "root")
	c := apitest.Register(t, ts.URL, "alice")
	body := fmt.Sprintf(`{"name": "Test Container Agent", "description": "Agent for testing container management",
	  "type": "chat", "user_id": %q, "config": {"model": "gpt-3.5-turbo"},
	  "container_config": {"image": %q, "memory_limit": "512m", "cpu_limit": 0.5,
	    "env_vars": {"TEST_VAR": "test_value"}, "secret_env": {"API_TOKEN": "s3cret-k8s"}}}`, c.UserID, ts.Config.Image)
	var a apitest.Agent
	c.MustDo("POST", "/api/agents/", body, 201, &a)

	var msg map[string]string
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, &msg)
	if msg["message"] != "Agent container started successfully" {
		t.Fatalf("start = %v", msg)
	}
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusRunning || a.ContainerID == "" || a.ContainerStatus != "running" || a.HostPort != nil {
		t.Fatalf("started agent = %+v", a)
	}
	assertPod(t, cluster, ts.Config, a)

	logs := c.WaitLogs(a.ID, "warder-agent starting", 30*time.Second)
	if !strings.Contains(logs, "TEST_VAR") || strings.Contains(logs, "test_value") || strings.Contains(logs, "s3cret-k8s") {
		t.Fatalf("logs: %q", logs)
	}
	var one struct{ Logs string }
	c.MustDo("GET", "/api/agents/"+a.ID+"/logs?lines=1", nil, 200, &one)
	if n := strings.Count(strings.TrimSpace(one.Logs), "\n"); n != 0 {
		t.Fatalf("lines=1 gave %d lines", n+1)
	}

	// The kubelet samples every 10 s or so: wait for a first figure.
	var stats struct{ Stats map[string]any }
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		c.MustDo("GET", "/api/agents/"+a.ID+"/stats", nil, 200, &stats)
		if stats.Stats["memory_bytes"].(float64) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no memory figure after 60 s: %v", stats.Stats)
		}
	}
	if stats.Stats["memory_limit_bytes"].(float64) != 512<<20 || !strings.HasSuffix(stats.Stats["cpu_usage"].(string), "%") {
		t.Fatalf("stats = %v", stats.Stats)
	}

	var r chatReply
	c.MustDo("POST", "/api/agents/"+a.ID+"/chat", map[string]any{"content": "hello pod"}, 200, &r)
	if !strings.Contains(r.Content, `You said: "hello pod"`) {
		t.Fatalf("chat = %+v", r)
	}
	var health map[string]string
	c.MustDo("GET", "/api/agents/"+a.ID+"/proxy/health", nil, 200, &health)
	if health["agent_id"] != a.ID {
		t.Fatalf("proxy health = %v", health)
	}

	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, &msg)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusStopped || a.ContainerStatus != "exited" {
		t.Fatalf("stopped agent = %+v", a)
	}
	if out, _ := cluster.Try("get", "pod", "-n", ts.Config.K8sNamespace, a.ContainerName); out != "" {
		t.Fatalf("the pod of a stopped agent still exists: %s", out)
	}
	if status, raw := c.Do("GET", "/api/agents/"+a.ID+"/stats", nil); status != http.StatusConflict {
		t.Fatalf("stats of a stopped agent = %d %s", status, raw)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/restart", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	if a.Status != warder.StatusRunning {
		t.Fatalf("restarted agent = %+v", a)
	}

	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	if _, err := ts.App.Runtime().Inspect(context.Background(), a.ContainerID); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("workload after delete: %v", err)
	}
	for _, kind := range []string{"pod", "secret"} {
		if out, _ := cluster.Try("get", kind, "-n", ts.Config.K8sNamespace, a.ContainerName, "--ignore-not-found", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Fatalf("%s left after delete: %s", kind, out)
		}
	}
}

// assertPod checks the real Pod against the agent: hardening, limits,
// labels, and env from the workload's Secret (never in the Pod itself).
func assertPod(t *testing.T, cluster *testenv.Cluster, cfg app.Config, a apitest.Agent) {
	t.Helper()
	raw := cluster.Kubectl(t, "get", "pod", "-n", cfg.K8sNamespace, a.ContainerName, "-o", "json")
	if strings.Contains(raw, "test_value") || strings.Contains(raw, "s3cret-k8s") {
		t.Error("the Pod object holds an env value; it must come from the Secret")
	}
	var p struct {
		Metadata struct {
			Labels      map[string]string
			Annotations map[string]string
		}
		Spec struct {
			AutomountServiceAccountToken *bool
			SecurityContext              struct {
				RunAsUser      int64
				RunAsNonRoot   bool
				SeccompProfile struct{ Type string }
			}
			Containers []struct {
				Resources       struct{ Limits map[string]string }
				SecurityContext struct {
					ReadOnlyRootFilesystem   bool
					AllowPrivilegeEscalation bool
					Capabilities             struct{ Drop []string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Labels[warder.LabelAgentID] != a.ID || p.Metadata.Labels[warder.LabelUserID] != a.UserID || p.Metadata.Annotations[warder.LabelAgentName] != a.Name {
		t.Errorf("labels %v, annotations %v", p.Metadata.Labels, p.Metadata.Annotations)
	}
	sc, c := p.Spec.SecurityContext, p.Spec.Containers[0]
	if sc.RunAsUser != 65534 || !sc.RunAsNonRoot || sc.SeccompProfile.Type != "RuntimeDefault" || p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Errorf("pod security = %+v", p.Spec)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation || len(c.SecurityContext.Capabilities.Drop) != 1 {
		t.Errorf("container security = %+v", c.SecurityContext)
	}
	if c.Resources.Limits["memory"] != "512Mi" || c.Resources.Limits["cpu"] != "500m" {
		t.Errorf("limits = %v", c.Resources.Limits)
	}
	sec := cluster.Kubectl(t, "get", "secret", "-n", cfg.K8sNamespace, a.ContainerName, "-o", "jsonpath={.data.TEST_VAR}")
	if sec != "dGVzdF92YWx1ZQ==" { // base64 of test_value
		t.Errorf("the workload's Secret holds TEST_VAR=%q", sec)
	}
}

// TestKubernetesStatusTruth: an exit with a code, an OOM kill, a Pod
// deleted behind Warder's back, and a Warder restart that missed it all
// each end in the status they should; an orphan workload is removed.
func TestKubernetesStatusTruth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := testenv.UniqueName("wt-")
	same := func(c *app.Config) { c.DataDir, c.K8sNamespace = dir, ns }
	ts, cluster := e2etest.NewKubernetesServer(t, same)
	c := apitest.Register(t, ts.URL, "root")

	crash := c.CreateWith("crasher", map[string]any{"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "3", "WARDER_AGENT_EXIT_AFTER": "300ms"}})
	c.MustDo("POST", "/api/agents/"+crash.ID+"/start", nil, 200, nil)
	crash = c.WaitStatus(crash.ID, 60*time.Second, apitest.Is(warder.StatusExited))
	if crash.ExitCode == nil || *crash.ExitCode != 3 {
		t.Fatalf("after exit 3: %+v", crash)
	}
	c.WaitLogs(crash.ID, "warder-agent exiting with code 3", 10*time.Second)

	oom := c.CreateWith("hungry", map[string]any{"memory_limit": "16m", "env_vars": map[string]string{"WARDER_AGENT_ALLOCATE_MB": "64"}})
	c.MustDo("POST", "/api/agents/"+oom.ID+"/start", nil, 200, nil)
	// The node names the kill OOMKilled when containerd saw the cgroup's
	// OOM event before the task's exit; sometimes (on this one-node test
	// cluster, under load) it reports only the exit by SIGKILL. Warder
	// shows what the node says: failed with OOMKilled, or exited 137.
	oom = c.WaitStatus(oom.ID, 60*time.Second, func(a apitest.Agent) bool {
		return a.Status == warder.StatusFailed || a.Status == warder.StatusExited
	})
	switch {
	case oom.Status == warder.StatusFailed && strings.Contains(oom.StatusReason, "OOMKilled"):
	case oom.Status == warder.StatusExited && oom.ExitCode != nil && *oom.ExitCode == 137:
		t.Logf("the node reported the OOM kill as an exit by SIGKILL (137), not OOMKilled: %q", oom.StatusReason)
	default:
		t.Fatalf("after OOM: %+v", oom)
	}

	gone := c.CreateAgent("gone")
	c.MustDo("POST", "/api/agents/"+gone.ID+"/start", nil, 200, nil)
	cluster.Kubectl(t, "delete", "pod", "-n", ns, warder.ContainerName(gone.ID), "--grace-period=0", "--force")
	c.WaitStatus(gone.ID, 30*time.Second, apitest.Is(warder.StatusMissing))

	// Warder stops; while it is down one agent's Pod is deleted and
	// another keeps running. A new Warder resyncs both.
	missed, kept := c.CreateAgent("missed"), c.CreateAgent("kept")
	c.MustDo("POST", "/api/agents/"+missed.ID+"/start", nil, 200, nil)
	c.MustDo("POST", "/api/agents/"+kept.ID+"/start", nil, 200, nil)
	ts.Stop()
	ts.Close()
	cluster.Kubectl(t, "delete", "pod", "-n", ns, warder.ContainerName(missed.ID), "--grace-period=0", "--force")
	// And a workload of an agent that does not exist: an orphan.
	const ghost = "00000000-0000-0000-0000-00000000a6e7"
	orphan, err := ts.App.Runtime().Create(context.Background(), warder.WorkloadSpec{Name: warder.ContainerName(ghost), AgentID: ghost,
		Image: ts.Config.Image, Port: 8000, Labels: map[string]string{warder.LabelManaged: ts.Config.Network, warder.LabelAgentID: ghost}})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := e2etest.NewKubernetesServer(t, same)
	c2 := *c // the same token: it lives in the shared database
	c2.Base = again.URL
	c2.WaitStatus(missed.ID, 30*time.Second, apitest.Is(warder.StatusMissing))
	c2.WaitStatus(kept.ID, 30*time.Second, apitest.Is(warder.StatusRunning))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := again.App.Runtime().Inspect(context.Background(), orphan)
		if errors.Is(err, warder.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphan workload survived the resync: %v", err)
		}
	}
}

// TestKubernetesLogsFollow: a followed log shows the agent's output and
// ends when the agent is stopped.
func TestKubernetesLogsFollow(t *testing.T) {
	t.Parallel()
	ts, _ := e2etest.NewKubernetesServer(t, nil)
	c := apitest.Register(t, ts.URL, "root")
	a := c.CreateAgent("talker")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	s := c.Open("/api/agents/"+a.ID+"/logs?follow=true", false)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if strings.Contains(s.NextLine(t, time.Until(deadline)), "warder-agent starting") {
			break
		}
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case _, ok := <-s.Lines:
			if !ok {
				return
			}
		case <-time.After(time.Until(deadline)):
			t.Fatal("the follow is still open 30 s after the agent stopped")
		}
	}
}

// TestKubernetesCrashLoop: an "unless-stopped" agent that keeps exiting
// (the kubelet restarts it with a growing back-off: about 70 s for three
// restarts) is reported failed as a crash loop, and given up: its Pod is
// deleted, so the restarts end.
func TestKubernetesCrashLoop(t *testing.T) {
	t.Parallel()
	ts, cluster := e2etest.NewKubernetesServer(t, nil)
	c := apitest.Register(t, ts.URL, "root")
	a := c.CreateWith("looper", map[string]any{"restart_policy": "unless-stopped",
		"env_vars": map[string]string{"WARDER_AGENT_EXIT_CODE": "4", "WARDER_AGENT_EXIT_AFTER": "200ms"}})
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	a = c.WaitStatus(a.ID, 180*time.Second, apitest.Is(warder.StatusFailed))
	if !strings.Contains(a.StatusReason, "crash loop") || a.RestartCount < 3 || a.ExitCode == nil || *a.ExitCode != 4 {
		t.Fatalf("after a crash loop: %+v", a)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := cluster.Try("get", "pod", "-n", ts.Config.K8sNamespace, a.ContainerName, "--ignore-not-found", "-o", "name")
		if err == nil && strings.TrimSpace(out) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the given-up agent's Pod still exists: %s %v", out, err)
		}
	}
}
