package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/moby/moby/api/types/build"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestExecBoundCountsWhatIsAlive: through the real server and Docker,
// with one command at a time per agent, a command that re-executes
// itself with an empty environment and times out, or exits leaving a
// double-forked daemon behind, frees its agent's slot only once none of
// its processes is left: when the next command is admitted, nothing of
// the previous one runs.
func TestExecBoundCountsWhatIsAlive(t *testing.T) {
	t.Parallel()
	cli := dockerClient(t)
	image := escapeImage(t, cli) // first: removed after the server's agents
	ts := newTestServer(t, func(c *app.Config) {
		c.MaxExecsPerAgent = 1
		c.AllowedImages = append(c.AllowedImages, image)
		c.AdminAllowedImages = append(c.AdminAllowedImages, image)
	})
	alice := ts.register(t, "alice")
	a := alice.CreateWith("escaper", map[string]any{"image": image})
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	alice.MustDo("GET", "/api/agents/"+a.ID, nil, 200, &a)
	path := "/api/agents/" + a.ID + "/exec"
	// alive counts the agent's processes sleeping for seconds.
	alive := func(seconds string) int {
		top, err := cli.ContainerTop(context.Background(), a.ContainerID, moby.ContainerTopOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range top.Processes {
			if strings.HasSuffix(strings.Join(p, " "), "execescape sleeping "+seconds) {
				n++
			}
		}
		return n
	}
	run := func(body string) string {
		resp := alice.Stream("POST", path, body)
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("exec %s = %d", body, resp.StatusCode)
		}
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}

	if out := run(`{"cmd": ["/execescape", "reexec", "301"], "timeout": "2s"}`); !strings.Contains(out, `"timed_out":true`) {
		t.Fatalf("the re-exec'd command did not time out: %s", out)
	}
	// The slot is free now (a 429 would fail run), and so must be the agent.
	resp := alice.Stream("POST", path, `{"cmd": ["/execescape", "daemon", "302", "0"]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("the next exec = %d", resp.StatusCode)
	}
	if n := alive("301"); n > 0 {
		t.Errorf("the timed-out command's slot was free while %d of its processes ran", n)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(out), "daemon started") || !strings.Contains(string(out), `"exit_code":0`) {
		t.Fatalf("the daemon command: %s", out)
	}
	run(`{"cmd": ["/warder-agent", "echo", "next"]}`)
	if n := alive("302"); n > 0 {
		t.Errorf("the exited command's slot was free while the daemon it left (%d processes) ran", n)
	}
}

// escapeImage builds an image FROM scratch of the test agent and
// docker/testdata/execescape (re-execs with no environment, double-forks
// into new sessions), removed by its tag when t ends.
func escapeImage(t *testing.T, cli *moby.Client) string {
	t.Helper()
	_, agentPath := testImage(t)
	dir := t.TempDir()
	gb := exec.Command("go", "build", "-o", filepath.Join(dir, "execescape"), "../docker/testdata/execescape")
	gb.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gb.CombinedOutput(); err != nil {
		t.Fatalf("building execescape: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, body []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body))})
		tw.Write(body)
	}
	add("Dockerfile", 0o644, []byte("FROM scratch\nCOPY warder-agent /warder-agent\nCOPY execescape /execescape\nUSER 65534:65534\nENTRYPOINT [\"/warder-agent\"]\n"))
	for _, f := range []string{agentPath, filepath.Join(dir, "execescape")} {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Base(f), 0o755, body)
	}
	tw.Close()
	tag := testenv.UniqueName("warder-test/execescape:t")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := cli.ImageBuild(ctx, &buf, moby.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	t.Cleanup(func() {
		if _, err := cli.ImageRemove(context.Background(), tag, moby.ImageRemoveOptions{PruneChildren: true}); err != nil {
			t.Errorf("cleanup: remove image %s: %v", tag, err)
		}
	})
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("building %s: %s", tag, out)
	}
	return tag
}
