package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
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

// TestKubernetesWorkspaceBounded is issue 26's item 10 on Kubernetes: the
// workspace bound (WARDER_MAX_WORKSPACE_BYTES) is the claim's request,
// and the volume enforces it, so an agent writing past it from inside
// gets ENOSPC: what it wrote stays within the bound, and so does what
// its volume takes of the host's disk.
func TestKubernetesWorkspaceBounded(t *testing.T) {
	t.Parallel()
	const bound = 4 << 20
	ts, cluster := e2etest.NewKubernetesServer(t, func(c *app.Config) { c.WorkspaceBytes = bound })
	ns := ts.Config.K8sNamespace
	c := apitest.Register(t, ts.URL, "alice")
	a := c.CreateAgent("filler")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	claim := warder.WorkspaceName(a.ID)
	if got := cluster.Kubectl(t, "get", "pvc", "-n", ns, claim, "-o", "jsonpath={.spec.resources.requests.storage}"); got != "4Mi" {
		t.Fatalf("the claim requests %q, want 4Mi (the bound)", got)
	}

	// The exec API takes at most 1 MiB a request: the agent writes three
	// files of 900 kB, then files of 60 kB until the volume is full
	// (8.5 MB in all at most). The last write exits with what it could
	// not write still in its pipe: 60 kB, which the pipe holds, so its
	// exec ends with its exit code. (An exec whose command leaves more
	// of its stdin unread than the pipes between hold ends only at its
	// timeout on Kubernetes.)
	full := ""
	for i := 1; i <= 100 && full == ""; i++ {
		n := 60_000
		if i <= 3 {
			n = 900_000
		}
		body, _ := json.Marshal(map[string]any{"cmd": []string{"/warder-agent", "write", fmt.Sprintf("/data/f%d", i)}, "stdin": strings.Repeat("x", n)})
		ch, _ := execEvents(t, c, a.ID, string(body))
		var stderr, exit string
		for ev := range ch {
			if v, ok := strings.CutPrefix(ev, "stderr "); ok {
				stderr += v
			}
			if v, ok := strings.CutPrefix(ev, "exit "); ok {
				exit = v
			}
			if strings.HasPrefix(ev, "error ") {
				t.Fatalf("exec write f%d: %s", i, ev)
			}
		}
		switch {
		case strings.Contains(exit, `"exit_code":0`):
		case strings.Contains(stderr, "no space left on device") && strings.Contains(exit, `"exit_code":1,"timed_out":false`):
			full = stderr
		default:
			t.Fatalf("write f%d: exit %s, stderr %q", i, exit, stderr)
		}
	}
	if full == "" {
		t.Fatalf("the agent wrote 8.5 MB into a workspace bounded at %d bytes", bound)
	}
	t.Logf("past the bound: %s", strings.TrimSpace(full))

	out, exit := runAll(t, c, a.ID, "/warder-agent", "ls", "/data")
	if !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("ls /data: %s", exit)
	}
	var total int64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 5 {
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("ls line %q", l)
			}
			total += n
		}
	}
	if total > bound || total < 3*900_000 {
		t.Fatalf("the agent's files hold %d bytes; the bound is %d\n%s", total, bound, out)
	}

	// On the host, the volume is an image file of the bound's size, and
	// takes no more of the disk than that.
	pv := cluster.Kubectl(t, "get", "pvc", "-n", ns, claim, "-o", "jsonpath={.spec.volumeName}")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(cluster.Dir, "volumes", pv+".img"), &st); err != nil {
		t.Fatalf("the volume's image: %v", err)
	}
	if st.Size != bound || st.Blocks*512 > bound {
		t.Fatalf("the volume's image is %d bytes, %d on disk; the bound is %d", st.Size, st.Blocks*512, bound)
	}
}
