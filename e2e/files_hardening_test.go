package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	moby "github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// These tests come from an attack review of the files path (files
// helpers, fsop) and of host ports; each failed on the code reviewed.

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// slowGet GETs path with c's token, reading at most rate bytes a second
// (0: at once), and returns the status and the body read.
func slowGet(t *testing.T, c *apitest.Client, path string, rate int) (int, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if rate == 0 {
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	var out bytes.Buffer
	buf := make([]byte, rate/10)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		out.Write(buf[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return resp.StatusCode, out.Bytes(), nil
		}
		if err != nil {
			return resp.StatusCode, out.Bytes(), err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFailedOverwriteKeepsOldFile: a PUT that would replace a file and
// runs out of room half-way (the workspace's filesystem is full) is a 413
// and leaves the old file as it was (the review: the old file was
// truncated first, and a partial new one left).
func TestFailedOverwriteKeepsOldFile(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "e2e-ws-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // after the server unmounted its workspaces
	ts := newWorkspaceServer(t, func(c *app.Config) {
		c.WorkspaceBytes, c.MaxUploadBytes, c.WorkspaceDir = 64<<20, 64<<20, dir
	})
	c := ts.register(t, "alice")
	a := c.CreateAgent("overwrite")
	files := "/api/agents/" + a.ID + "/files/"
	v1 := randomBytes(5_000_000)
	c.MustDo("PUT", files+"other", string(randomBytes(20_000_000)), 200, nil)
	c.MustDo("PUT", files+"doc", string(v1), 200, nil)
	// 25 MB used and 40 MB more pass the 64 MiB check, but the filesystem
	// holds less (ext4's own structures), and the new file is written
	// beside the old one until it is whole.
	code, raw := c.Do("PUT", files+"doc", string(randomBytes(40_000_000)))
	if code != 413 {
		t.Fatalf("an overwrite past the filesystem's room = %d %s, want 413", code, raw)
	}
	status, got, err := slowGet(t, c, files+"doc", 0)
	if err != nil || status != 200 || !bytes.Equal(got, v1) {
		t.Fatalf("after the failed overwrite doc is %d bytes (%d, %v), not its old 5000000", len(got), status, err)
	}
	var l warder.DirListing
	c.MustDo("GET", files, nil, 200, &l)
	if len(l.Entries) != 2 {
		t.Fatalf("the failed overwrite left %+v", l.Entries)
	}
}

// TestFilesHelperOutlivesItsCalls: a download slower than the files
// helper's idle time, with other calls coming meanwhile (which start a
// new helper once the first has been idle half that time), arrives whole
// (the review: a helper replaced or ended under a download cut it short,
// or, retried, sent a second tar after the first's start).
func TestFilesHelperOutlivesItsCalls(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, func(c *app.Config) {
		c.FilesHelperIdle = 2 * time.Second
		c.WorkspaceBytes, c.MaxUploadBytes = 64<<20, 64<<20
	})
	c := ts.register(t, "alice")
	a := c.CreateAgent("slow")
	files := "/api/agents/" + a.ID + "/files/"
	big := randomBytes(6 << 20)
	c.MustDo("PUT", files+"big", string(big), 200, nil)
	type result struct {
		status int
		body   []byte
		err    error
	}
	got := make(chan result, 1)
	go func() {
		s, b, err := slowGet(t, c, files+"big", 1<<20) // about 6 s
		got <- result{s, b, err}
	}()
	for range 4 {
		time.Sleep(1500 * time.Millisecond)
		c.MustDo("GET", files, nil, 200, nil)
	}
	r := <-got
	if r.status != 200 || r.err != nil || !bytes.Equal(r.body, big) {
		t.Fatalf("a slow download: %d, %d of %d bytes, equal %v, %v", r.status, len(r.body), len(big), bytes.Equal(r.body, big), r.err)
	}
	// Idle, the helpers end by themselves.
	cli := dockerClient(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := countContainers(t, cli, "warder.helper.volume="+warder.WorkspaceName(a.ID))
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files helpers still up 30 s after the last call", n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestDeepUploadRefused: an upload nested deeper than 256 directories is
// a 400 (the review: the API made a tree it could then neither delete
// nor download whole).
func TestDeepUploadRefused(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	c := ts.register(t, "alice")
	a := c.CreateAgent("deep")
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "deep/" + strings.Repeat("d/", 300) + "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	if code, raw := c.Do("PUT", "/api/agents/"+a.ID+"/files/?format=tar", tb.String()); code != 400 || !strings.Contains(apitest.DetailOf(t, raw), "deeper") {
		t.Fatalf("a 301-deep upload = %d %s", code, raw)
	}
}

// TestFilesCallsRacingDeleteAreNot500: files calls that race the
// agent's deletion (which removes its files helpers) answer 404 or are
// served, never a 500.
func TestFilesCallsRacingDeleteAreNot500(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, nil)
	c := ts.register(t, "alice")
	cli := dockerClient(t)
	var bad []string
	for round := range 4 {
		a := c.CreateAgent(fmt.Sprint("race", round))
		files := "/api/agents/" + a.ID + "/files/"
		c.MustDo("PUT", files+"x", "x", 200, nil)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 3 {
			wg.Go(func() {
				for range 30 {
					if code, raw := c.Do("GET", files, nil); code >= 500 {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("%d %s", code, raw))
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(100+100*round) * time.Millisecond)
		c.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
		wg.Wait()
		// No call brought the deleted workspace back (the engine makes a
		// missing volume a container names).
		if _, err := cli.VolumeInspect(context.Background(), warder.WorkspaceName(a.ID), moby.VolumeInspectOptions{}); err == nil {
			t.Fatalf("round %d: the deleted agent's workspace volume exists again", round)
		}
		if n := countContainers(t, cli, "warder.helper.volume="+warder.WorkspaceName(a.ID)); n != 0 {
			t.Fatalf("round %d: %d files helpers of the deleted agent are left", round, n)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("files calls racing DELETE agent: %q", bad)
	}
}

// TestExitedAgentsHoldNoPort: an agent whose process ends by itself
// gives its host port up, as a stopped one does (the review: two agents
// that exit at once held a two-port range while their owner ran
// nothing).
func TestExitedAgentsHoldNoPort(t *testing.T) {
	t.Parallel()
	const start = 19670 // a range of two ports, this test's alone
	ts := newTestServer(t, func(c *app.Config) { c.PortStart, c.PortEnd = start, start+1 })
	bob, alice := ts.register(t, "bob"), ts.register(t, "alice")
	for _, name := range []string{"x1", "x2"} {
		a := bob.CreateWith(name, map[string]any{"env_vars": map[string]string{"LLM_TIMEOUT": "bogus"}})
		bob.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
		got := bob.WaitStatus(a.ID, 30*time.Second, func(a apitest.Agent) bool { return a.Status == warder.StatusExited && a.HostPort == nil })
		if got.Status != warder.StatusExited || got.HostPort != nil {
			t.Fatalf("agent %s: %s holding port %v, want exited and no port", name, got.Status, got.HostPort)
		}
	}
	a := alice.CreateAgent("runs")
	if code, raw := alice.Do("POST", "/api/agents/"+a.ID+"/start", nil); code != 200 {
		t.Fatalf("with bob's two agents exited, alice's start = %d %s", code, raw)
	}
}

// TestConcurrentFileCallsFit: as many files calls at once in one
// workspace as two replicas allow (8) are all served (the review: the
// helper's 32 pids made two of eight downloads fail with a 500).
func TestConcurrentFileCallsFit(t *testing.T) {
	t.Parallel()
	ts := newWorkspaceServer(t, func(c *app.Config) {
		c.MaxFileOpsPerUser = 8 // as two replicas with the default 4
		c.WorkspaceBytes, c.MaxUploadBytes = 64<<20, 64<<20
	})
	c := ts.register(t, "alice")
	a := c.CreateAgent("busy")
	files := "/api/agents/" + a.ID + "/files/"
	big := randomBytes(6 << 20)
	c.MustDo("PUT", files+"big", string(big), 200, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for range 8 {
		wg.Go(func() {
			status, body, err := slowGet(t, c, files+"big", 1<<20) // about 6 s each
			if status != 200 || err != nil || !bytes.Equal(body, big) {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%d %v %.200s", status, err, body))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of 8 concurrent downloads failed: %q", len(bad), bad)
	}
}

// countContainers counts the containers, running or not, carrying label
// ("key=value").
func countContainers(t *testing.T, cli *moby.Client, label string) int {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), moby.ContainerListOptions{All: true, Filters: moby.Filters{}.Add("label", label)})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}
