package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
)

// newWorkspaceServer is a test server on a network named for this
// feature (wws-), with change applied.
func newWorkspaceServer(t *testing.T, change func(*app.Config)) *testServer {
	t.Helper()
	return newTestServer(t, func(c *app.Config) {
		c.Network = e2etest.Network(t, "wws-net-")
		if change != nil {
			change(c)
		}
	})
}

// execEvents runs cmd in the agent and returns its events as they come:
// "stdout tick 1\n", ..., "exit <json>".
func execEvents(t *testing.T, c *apitest.Client, agentID, body string) (<-chan string, *http.Response) {
	t.Helper()
	resp := c.Stream("POST", "/api/agents/"+agentID+"/exec", body)
	if resp.StatusCode != 200 {
		t.Fatalf("exec %s = %d", body, resp.StatusCode)
	}
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		r := bufio.NewReader(resp.Body)
		name := ""
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var out warder.ExecOutput
				if name == "stdout" || name == "stderr" {
					if err := json.Unmarshal([]byte(v), &out); err == nil {
						v = out.Data
					}
				}
				ch <- name + " " + v
			}
		}
	}()
	return ch, resp
}

// runAll runs cmd to its end and returns what it wrote on stdout and
// the exit event's data.
func runAll(t *testing.T, c *apitest.Client, agentID string, cmd ...string) (stdout, exit string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"cmd": cmd})
	ch, _ := execEvents(t, c, agentID, string(body))
	deadline := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("exec %v ended without an exit event; stdout %q", cmd, stdout)
			}
			switch {
			case strings.HasPrefix(ev, "stdout "):
				stdout += strings.TrimPrefix(ev, "stdout ")
			case strings.HasPrefix(ev, "exit "):
				return stdout, strings.TrimPrefix(ev, "exit ")
			case strings.HasPrefix(ev, "error "):
				t.Fatalf("exec %v: %s", cmd, ev)
			}
		case <-deadline:
			t.Fatalf("exec %v did not end within a minute", cmd)
		}
	}
}

// TestWorkspacePersists: a file written through the API before the agent
// ever ran is in /data for the agent, and stays across stop/start and a
// settings change (which makes the container again); the agent's own
// writes stay too; a second agent of the same user sees none of it.
func TestWorkspacePersists(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("keeper")
	files := "/api/agents/" + a.ID + "/files/"
	c.MustDo("PUT", files+"notes/plan.txt", "step one", 200, nil)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	if out, exit := runAll(t, c, a.ID, "/warder-agent", "cat", "/data/notes/plan.txt"); out != "step one" || !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("the agent reads %q (%s)", out, exit)
	}
	// The agent writes its workspace as its own user.
	if _, exit := runAll(t, c, a.ID, "/warder-agent", "mkdir", "/data/made-by-agent"); !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("the agent cannot write /data: %s", exit)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	if code, body := c.Do("GET", files+"notes/plan.txt", nil); code != 200 || string(body) != "step one" {
		t.Fatalf("after stop/start = %d %q", code, body)
	}
	c.MustDo("POST", "/api/agents/"+a.ID+"/stop", nil, 200, nil)
	var before, after apitest.Agent
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &before)
	c.MustDo("PATCH", "/api/agents/"+a.ID, map[string]any{"container_config": map[string]any{"memory_limit": "96m", "env_vars": map[string]string{"NEW": "1"}}}, 200, nil)
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	c.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &after)
	if before.ContainerID == "" || before.ContainerID == after.ContainerID {
		t.Fatalf("the settings change did not make a new container: %s then %s", before.ContainerID, after.ContainerID)
	}
	if out, _ := runAll(t, c, a.ID, "/warder-agent", "cat", "/data/notes/plan.txt"); out != "step one" {
		t.Fatalf("after a settings change the agent reads %q", out)
	}
	var l warder.DirListing
	c.MustDo("GET", files, nil, 200, &l)
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Name+":"+e.Type)
	}
	if strings.Join(names, ",") != "made-by-agent:dir,notes:dir" {
		t.Fatalf("root listing: %v", names)
	}

	// A second agent of the same user has a workspace of its own.
	b := c.CreateAgent("other")
	c.MustDo("POST", "/api/agents/"+b.ID+"/start", nil, 200, nil)
	if out, exit := runAll(t, c, b.ID, "/warder-agent", "ls", "/data"); out != "" || !strings.Contains(exit, `"exit_code":0`) {
		t.Fatalf("the second agent sees %q in /data (%s)", out, exit)
	}
	if code, _ := c.Do("GET", "/api/agents/"+b.ID+"/files/notes/plan.txt", nil); code != 404 {
		t.Fatalf("the second agent's files API finds the first's file: %d", code)
	}
}

// TestWorkspaceRefusals: path escapes, oversize uploads and uploads past
// the workspace bounds are refused with a clear 4xx, on the real engine,
// and leave nothing in the workspace.
func TestWorkspaceRefusals(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, func(c *app.Config) {
		c.MaxUploadBytes, c.WorkspaceBytes, c.WorkspaceBytesPerUser = 64<<10, 100<<10, 150<<10
	})
	c := ts.register(t, "alice")
	a, b := c.CreateAgent("bounded"), c.CreateAgent("second")
	files := "/api/agents/" + a.ID + "/files/"
	for _, p := range []string{"%2e%2e/%2e%2e/etc/passwd", "%2Fetc/passwd"} {
		if code, raw := c.Do("PUT", files+p, "x"); code != 400 || !strings.Contains(apitest.DetailOf(t, raw), "path") {
			t.Errorf("PUT %s = %d %s", p, code, raw)
		}
		if code, raw := c.Do("GET", files+p, nil); code != 400 {
			t.Errorf("GET %s = %d %s", p, code, raw)
		}
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "fine.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("ok"))
	tw.WriteHeader(&tar.Header{Name: "../../outside.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("bad"))
	tw.Close()
	if code, raw := c.Do("PUT", files+"up?format=tar", tb.Bytes()); code != 400 || !strings.Contains(apitest.DetailOf(t, raw), "..") {
		t.Fatalf("a climbing tar = %d %s", code, raw)
	}
	if code, raw := c.Do("PUT", files+"big.bin", strings.Repeat("x", 64<<10+1)); code != 413 {
		t.Fatalf("an oversize upload = %d %s", code, raw)
	}
	chunk := strings.Repeat("y", 60<<10)
	c.MustDo("PUT", files+"one.bin", chunk, 200, nil)
	if code, raw := c.Do("PUT", files+"two.bin", chunk); code != 409 || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_MAX_WORKSPACE_BYTES") {
		t.Fatalf("past the agent's bound = %d %s", code, raw)
	}
	c.MustDo("PUT", "/api/agents/"+b.ID+"/files/one.bin", chunk, 200, nil)
	if code, raw := c.Do("PUT", "/api/agents/"+b.ID+"/files/two.bin", strings.Repeat("z", 40<<10)); code != 409 || !strings.Contains(apitest.DetailOf(t, raw), "PER_USER") {
		t.Fatalf("past the user's bound = %d %s", code, raw)
	}
	// What is there: a file over a directory, a tar with a file where a
	// directory is, are 409s that leave the directory as it was.
	c.MustDo("PUT", "/api/agents/"+b.ID+"/files/d/keep.txt", "k", 200, nil)
	if code, raw := c.Do("PUT", "/api/agents/"+b.ID+"/files/d", "x"); code != 409 {
		t.Fatalf("a file over a directory = %d %s", code, raw)
	}
	var ov bytes.Buffer
	otw := tar.NewWriter(&ov)
	otw.WriteHeader(&tar.Header{Name: "d", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	otw.Write([]byte("x"))
	otw.Close()
	if code, raw := c.Do("PUT", "/api/agents/"+b.ID+"/files/?format=tar", ov.Bytes()); code != 409 {
		t.Fatalf("a tar with a file over a directory = %d %s", code, raw)
	}
	if code, body := c.Do("GET", "/api/agents/"+b.ID+"/files/d/keep.txt", nil); code != 200 || string(body) != "k" {
		t.Fatalf("the directory after refused overwrites: %d %q", code, body)
	}
	var l warder.DirListing
	c.MustDo("GET", files, nil, 200, &l)
	if len(l.Entries) != 1 || l.Entries[0].Name != "one.bin" || l.Entries[0].Size != 60<<10 {
		t.Fatalf("refused uploads left: %+v", l.Entries)
	}
}

// TestExecStreams: output arrives as it is written (the first line long
// before the command ends), stdout and stderr told apart, each in order,
// then the exit code; a command past its timeout is killed and gone from
// the container.
func TestExecStreams(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("runner")
	c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)

	start := time.Now()
	ch, _ := execEvents(t, c, a.ID, `{"cmd": ["/warder-agent", "tick", "3", "1"]}`)
	var got []string
	for ev := range ch {
		if len(got) == 0 && time.Since(start) > 1900*time.Millisecond {
			t.Errorf("the first line came after %s: not streamed", time.Since(start))
		}
		got = append(got, ev)
	}
	// Each stream keeps its order; between the two, the engine reads two
	// pipes and may interleave them.
	var stdout, stderr []string
	for _, ev := range got {
		if s, ok := strings.CutPrefix(ev, "stdout "); ok {
			stdout = append(stdout, s)
		}
		if s, ok := strings.CutPrefix(ev, "stderr "); ok {
			stderr = append(stderr, s)
		}
	}
	if strings.Join(stdout, "") != "tick 1\ntick 2\ntick 3\n" || strings.Join(stderr, "") != "done\n" || len(got) != 5 ||
		!strings.HasPrefix(got[4], `exit {"exit_code":0,"timed_out":false`) {
		t.Fatalf("events: %q", got)
	}
	if _, exit := runAll(t, c, a.ID, "/warder-agent", "ls", "/nonexistent"); !strings.HasPrefix(exit, `{"exit_code":1,`) {
		t.Fatalf("a failing command: %s", exit)
	}
	start = time.Now()
	ch, _ = execEvents(t, c, a.ID, `{"cmd": ["/warder-agent", "sleep", "300"], "timeout": "1s"}`)
	var last string
	for ev := range ch {
		last = ev
	}
	if !strings.Contains(last, `"timed_out":true`) || time.Since(start) > 30*time.Second {
		t.Fatalf("a timed-out command ended with %q after %s", last, time.Since(start))
	}
	// Gone: the container's processes are the agent and this ls.
	out, _ := runAll(t, c, a.ID, "/warder-agent", "ls", "/proc")
	pids := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 5 && strings.Trim(f[4], "0123456789") == "" {
			pids++
		}
	}
	if pids != 2 {
		t.Fatalf("after the timeout the container runs %d processes:\n%s", pids, out)
	}
	// Exec runs as the agent's user (/proc/self is the command's own),
	// in a primary group of its own from the exec range (docker.ExecGIDBase
	// and up), which none of its processes can leave.
	out, _ = runAll(t, c, a.ID, "/warder-agent", "ls", "/proc/self/status")
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("ls of /proc/self/status: %q", out)
	}
	uid, gid, _ := strings.Cut(f[1], ":")
	if g, err := strconv.ParseInt(gid, 10, 64); uid != "65534" || err != nil || g < docker.ExecGIDBase {
		t.Fatalf("exec does not run as 65534 in an exec group: %q", out)
	}
}

// TestDeleteRemovesWorkspace: deleting an agent removes its volume;
// keep_workspace=true keeps it, listed for its owner with its size,
// until the owner deletes it.
func TestDeleteRemovesWorkspace(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	c := ts.register(t, "alice")
	rt := ts.App.Runtime().(*docker.Runtime)
	ctx := context.Background()
	gone, kept := c.CreateAgent("gone"), c.CreateAgent("kept")
	for _, a := range []apitest.Agent{gone, kept} {
		c.MustDo("PUT", "/api/agents/"+a.ID+"/files/f.txt", "12345", 200, nil)
		c.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	}
	c.MustDo("DELETE", "/api/agents/"+gone.ID, nil, 200, nil)
	if _, err := rt.WorkspaceUsage(ctx, warder.WorkspaceName(gone.ID)); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("the deleted agent's volume: %v", err)
	}
	c.MustDo("DELETE", "/api/agents/"+kept.ID+"?keep_workspace=true", nil, 200, nil)
	if n, err := rt.WorkspaceUsage(ctx, warder.WorkspaceName(kept.ID)); err != nil || n != 5 {
		t.Fatalf("the kept volume: %d bytes, %v", n, err)
	}
	var list warder.WorkspacesResponse
	c.MustDo("GET", "/api/workspaces", nil, 200, &list)
	if len(list.Workspaces) != 1 || list.Workspaces[0].Name != warder.WorkspaceName(kept.ID) || list.Workspaces[0].Attached || list.Workspaces[0].SizeBytes != 5 {
		t.Fatalf("workspaces: %+v", list.Workspaces)
	}
	bob := ts.register(t, "bob")
	if code, _ := bob.Do("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil); code != 404 {
		t.Fatalf("bob deletes alice's workspace: %d", code)
	}
	c.MustDo("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil, 200, nil)
	if _, err := rt.WorkspaceUsage(ctx, warder.WorkspaceName(kept.ID)); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("the deleted kept volume: %v", err)
	}
}
