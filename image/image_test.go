package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/client"

	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestWarderImage builds Warder's image from image/Dockerfile as
// image/build does, runs it as the README says (host network, the Docker
// socket and its group, not root), and walks an agent through it: the
// Warder in the container builds the default agent image, starts an agent
// and talks to it. Everything it made is removed by exact name.
func TestWarderImage(t *testing.T) {
	testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli, err := moby.New(moby.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	tag := testenv.UniqueName("warder-test/warder:t")
	buildImage(ctx, t, cli, tag)
	t.Cleanup(func() { removeImage(t, cli, tag) })

	port := freePort(t)
	network, agentImage := testenv.UniqueName("warder-test-img-net-"), testenv.UniqueName("warder-test/agent-img:t")
	name := testenv.UniqueName("warder-test-warder-")
	gid := socketGroup(t)
	_, err = cli.ContainerCreate(ctx, moby.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: tag, Env: []string{
			"WARDER_ADDR=127.0.0.1:" + strconv.Itoa(port),
			"AGENT_NETWORK=" + network, "AGENT_IMAGE=" + agentImage,
			"AGENT_PORT_RANGE_START=19600", "AGENT_PORT_RANGE_END=19699",
		}},
		HostConfig: &container.HostConfig{
			NetworkMode: "host",
			Binds:       []string{"/var/run/docker.sock:/var/run/docker.sock"},
			GroupAdd:    []string{gid},
			Tmpfs:       map[string]string{"/data": "uid=65534,gid=65534"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Warder's agents first (by their label), then Warder, its
		// networks and the agent image it built.
		list, _ := cli.ContainerList(cctx, moby.ContainerListOptions{All: true, Filters: moby.Filters{}.Add("label", "warder.managed="+network)})
		for _, c := range list.Items {
			cli.ContainerRemove(cctx, c.ID, moby.ContainerRemoveOptions{Force: true})
		}
		if _, err := cli.ContainerRemove(cctx, name, moby.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove %s: %v", name, err)
		}
		// The agents' workspaces (volumes) and any helper, by exact name.
		if rt, err := docker.New(docker.Config{Network: network}); err != nil {
			t.Errorf("cleanup: %v", err)
		} else {
			if err := rt.RemoveWorkspaces(cctx); err != nil {
				t.Errorf("cleanup: remove workspaces: %v", err)
			}
			rt.Close()
		}
		for _, n := range []string{network, network + "_internal"} {
			cli.NetworkRemove(cctx, n, moby.NetworkRemoveOptions{})
		}
		removeImage(t, cli, agentImage)
	})
	if _, err := cli.ContainerStart(ctx, name, moby.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	logsOnFailure(t, cli, name)

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, base+"/readyz", 2*time.Minute) // the agent image is built by then
	token := register(t, base)
	var a struct {
		ID string `json:"id"`
	}
	call(t, base, token, "POST", "/api/agents", `{"name":"inside","container_config":{"memory_limit":"32m","cpu_limit":0.25}}`, 201, &a)
	call(t, base, token, "POST", "/api/agents/"+a.ID+"/start", "", 200, nil)
	var reply struct {
		Content string `json:"content"`
	}
	call(t, base, token, "POST", "/api/agents/"+a.ID+"/chat", `{"content":"hello from the image test"}`, 200, &reply)
	if reply.Content == "" {
		t.Fatal("empty chat answer")
	}
	call(t, base, token, "DELETE", "/api/agents/"+a.ID, "", 200, nil)

	res, err := cli.ContainerInspect(ctx, name, moby.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := res.Container.Config.User; u != "65534:65534" {
		t.Errorf("Warder runs as %q, want 65534:65534", u)
	}
}

// buildImage builds image/Dockerfile with freshly built static binaries.
func buildImage(ctx context.Context, t *testing.T, cli *moby.Client, tag string) {
	t.Helper()
	dir := t.TempDir()
	for _, pkg := range []string{"warder", "warder-agent"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, pkg), "../cmd/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))})
	tw.Write(df)
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range []string{"warder", "warder-agent"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: f, Mode: 0o755, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.Close()
	res, err := cli.ImageBuild(ctx, &buf, moby.ImageBuildOptions{Tags: []string{tag}, Dockerfile: "Dockerfile", Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("build failed: %s", out)
	}
}

func removeImage(t *testing.T, cli *moby.Client, ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cli.ImageRemove(ctx, ref, moby.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !strings.Contains(err.Error(), "No such image") {
		t.Errorf("cleanup: remove image %s: %v", ref, err)
	}
}

// socketGroup is the group id of the Docker socket, given to the container.
func socketGroup(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("stat", "-c", "%g", "/var/run/docker.sock").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logsOnFailure prints the Warder container's log if the test fails.
func logsOnFailure(t *testing.T, cli *moby.Client, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		rc, err := cli.ContainerLogs(context.Background(), name, moby.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "100"})
		if err != nil {
			return
		}
		defer rc.Close()
		b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
		t.Logf("Warder's log in the container:\n%s", b)
	})
}

func waitFor(t *testing.T, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s (last: %v)", url, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func register(t *testing.T, base string) string {
	t.Helper()
	call(t, base, "", "POST", "/api/auth/register", `{"username":"root","email":"root@example.com","password":"image-test-pw"}`, 0, nil)
	var s struct {
		AccessToken string `json:"access_token"`
	}
	call(t, base, "", "POST", "/api/auth/login", `{"username":"root","password":"image-test-pw"}`, 200, &s)
	return s.AccessToken
}

// call makes one API call; want 0 accepts any 2xx.
func call(t *testing.T, base, token, method, path, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if (want == 0 && resp.StatusCode/100 != 2) || (want != 0 && resp.StatusCode != want) {
		t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestComposeFile: image/compose.yaml is a valid Compose file naming the
// image and the settings the README gives (it cannot be run here: no
// PostgreSQL image can be pulled).
func TestComposeFile(t *testing.T) {
	testenv.Docker(t)
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is needed to validate compose.yaml: %v", err)
	}
	cmd := exec.Command(bin, "-f", "compose.yaml", "config")
	cmd.Env = append(os.Environ(), "WARDER_SECRET_KEY="+strings.Repeat("0", 64), "DOCKER_GID=105")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	for _, want := range []string{"image: warder:latest", "network_mode: host", "/var/run/docker.sock", "WARDER_DATABASE_URL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("compose config lacks %q:\n%s", want, out)
		}
	}
}
