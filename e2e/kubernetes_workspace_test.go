package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/apitest"
	"github.com/warder/warder/internal/e2etest"
)

// TestKubernetesWorkspace is issue 18 on Kubernetes, through the API: a
// file put before the agent ever ran is in /data for it (a claim of its
// own, mounted in its Pod), stays across stop/start and a settings
// change, comes back as a file and as a tar; exec streams with the exit
// code; another user's agent's files are not found; deleting the agent
// deletes its claim unless kept, and a kept one is listed and deletable
// by its owner only.
func TestKubernetesWorkspace(t *testing.T) {
	t.Parallel()
	ts, cluster := e2etest.NewKubernetesServer(t, nil)
	ns := ts.Config.K8sNamespace
	c := apitest.Register(t, ts.URL, "alice")
	a := c.CreateAgent("keeper")
	files := "/api/agents/" + a.ID + "/files/"
	c.MustDo("PUT", files+"notes/plan.txt", "step one", 200, nil)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	claim := cluster.Kubectl(t, "get", "pod", "-n", ns, warder.ContainerName(a.ID), "-o", "jsonpath={.spec.volumes[?(@.name==\"workspace\")].persistentVolumeClaim.claimName}")
	if claim != warder.WorkspaceName(a.ID) {
		t.Fatalf("the Pod mounts claim %q", claim)
	}
	if out, exit := runAll(t, c, a.ID, "/warder-agent", "cat", "/data/notes/plan.txt"); out != "step one" || !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("the agent reads %q (%s)", out, exit)
	}
	if _, exit := runAll(t, c, a.ID, "/warder-agent", "write", "/data/by-agent.txt"); !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("the agent cannot write /data: %s", exit)
	}
	ch, _ := execEvents(t, c, a.ID, `{"cmd": ["/warder-agent", "tick", "3", "0.2"]}`)
	// Kubernetes carries stdout and stderr on channels of their own, so
	// order holds within each stream, not between them.
	var stdout, stderr, events []string
	for ev := range ch {
		events = append(events, ev)
		if v, ok := strings.CutPrefix(ev, "stdout "); ok {
			stdout = append(stdout, v)
		}
		if v, ok := strings.CutPrefix(ev, "stderr "); ok {
			stderr = append(stderr, v)
		}
	}
	if strings.Join(stdout, "") != "tick 1\ntick 2\ntick 3\n" || strings.Join(stderr, "") != "done\n" ||
		!strings.HasPrefix(events[len(events)-1], "exit ") || !strings.Contains(events[len(events)-1], `"exit_code":0`) {
		t.Fatalf("exec events: %q", events)
	}

	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	c.MustDo("PATCH", "/api/agents/"+a.ID, map[string]any{"container_config": map[string]any{"memory_limit": "96m"}}, 200, nil)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	if code, body := c.Do("GET", files+"notes/plan.txt", nil); code != 200 || string(body) != "step one" {
		t.Fatalf("after stop, a settings change and start = %d %q", code, body)
	}
	var l warder.DirListing
	c.MustDo("GET", files, nil, 200, &l)
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Name+":"+e.Type)
	}
	if strings.Join(names, ",") != "by-agent.txt:file,notes:dir" {
		t.Fatalf("root listing: %v", names)
	}
	if code, body := c.Do("GET", files+"notes?format=tar", nil); code != 200 || !strings.Contains(string(body), "notes/plan.txt") {
		t.Fatalf("tar of notes = %d (%d bytes)", code, len(body))
	}
	bob := apitest.Register(t, ts.URL, "bob")
	if code, _ := bob.Do("GET", files+"notes/plan.txt", nil); code != 404 {
		t.Fatalf("bob reads alice's file: %d", code)
	}

	kept := c.CreateAgent("kept")
	c.MustDo("PUT", "/api/agents/"+kept.ID+"/files/f.txt", "12345", 200, nil)
	c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
	c.MustDo("DELETE", "/api/agents/"+kept.ID+"?keep_workspace=true", nil, 200, nil)
	var list warder.WorkspacesResponse
	c.MustDo("GET", "/api/workspaces", nil, 200, &list)
	if len(list.Workspaces) != 1 || list.Workspaces[0].Name != warder.WorkspaceName(kept.ID) || list.Workspaces[0].SizeBytes != 5 {
		t.Fatalf("workspaces: %+v", list.Workspaces)
	}
	if code, _ := bob.Do("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil); code != 404 {
		t.Fatalf("bob deletes alice's workspace: %d", code)
	}
	c.MustDo("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil, 200, nil)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := cluster.Try("get", "pvc", "-n", ns, "-o", "name")
		if err == nil && !strings.Contains(got, a.ID) && !strings.Contains(got, kept.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("claims left after the deletes: %s %v", got, err)
		}
	}
}
