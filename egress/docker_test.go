package egress

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/warder/warder/internal/testkit/testenv"
)

// TestDockerAgentOnlyThroughProxy: a container on an internal Docker
// network (no route out) reaches a stand-in internet host, a container on
// a network of the test's own, only through the proxy, which listens on
// the internal network's gateway address: an allowed name answers, a name
// not listed and a listed name resolving to an unlisted private address
// are refused, and a direct connection to the host's address goes
// nowhere. Nothing leaves the machine: every name resolves through the
// test's resolver to the stand-in.
func TestDockerAgentOnlyThroughProxy(t *testing.T) {
	testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	image := buildProbeImage(t, ctx, cli)
	internal := makeNetwork(t, ctx, cli, testenv.UniqueName("wegress-int-"), true)
	inet := makeNetwork(t, ctx, cli, testenv.UniqueName("wegress-inet-"), false)

	host := runContainer(t, ctx, cli, image, inet.Name, nil, "serve", ":8000")
	hostIP := containerIP(t, ctx, cli, host, inet.Name)
	gw := inet.IPAM.Config[0].Gateway // a private address nobody listed
	proxyIP := internal.IPAM.Config[0].Gateway
	if !proxyIP.IsValid() {
		t.Fatalf("the internal network %s has no gateway address", internal.Name)
	}

	pol := MustParse("allowed.example:8000", "sneaky.example", hostIP.String()+":8000")
	rg := newRigOn(t, net.JoinHostPort(proxyIP.String(), "0"), pol)
	rg.res.set("allowed.example", hostIP.String())
	rg.res.set("denied.example", hostIP.String())
	rg.res.set("sneaky.example", gw.String())

	proxyURL := fmt.Sprintf("http://a1:secret@%s", rg.url.Host)
	agent := runContainer(t, ctx, cli, image, internal.Name, []string{"HTTP_PROXY=" + proxyURL},
		"get", "http://allowed.example:8000/",
		"get", "http://denied.example:8000/",
		"get", "http://sneaky.example:8000/",
		"direct", hostIP.String()+":8000",
		"direct", net.JoinHostPort(gw.String(), "1"),
	)
	out := waitOutput(t, ctx, cli, agent)
	for _, want := range []string{
		"get http://allowed.example:8000/: 200 internet says hi to allowed.example:8000",
		"get http://denied.example:8000/: 403 warder egress: denied.example:8000 is not in this agent's egress list",
		"get http://sneaky.example:8000/: 403 warder egress: sneaky.example resolves to " + gw.String() + " is a private address",
		"direct " + hostIP.String() + ":8000: error",
		"direct " + net.JoinHostPort(gw.String(), "1") + ": error",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the agent's output lacks %q:\n%s", want, out)
		}
	}
	// The same probe from the stand-in's own network connects: the
	// failures above are the internal network's, not the probe's.
	peer := runContainer(t, ctx, cli, image, inet.Name, nil, "direct", hostIP.String()+":8000")
	if out := waitOutput(t, ctx, cli, peer); !strings.Contains(out, "connected") {
		t.Errorf("the probe cannot connect even from the stand-in's network, so the test proves nothing:\n%s", out)
	}
	if st := rg.proxy.Stats(); st.Allowed != 1 || st.Refused[ReasonNotListed] != 1 || st.Refused[ReasonAddress] != 1 {
		t.Errorf("proxy stats: %+v", st)
	}
}

// newRigOn is newRig listening on addr.
func newRigOn(t *testing.T, addr string, pol Policy) *rig {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	return newRigListener(t, ln, pol, nil)
}

// buildProbeImage builds testdata/netprobe into an image FROM scratch,
// removed at the test's end.
func buildProbeImage(t *testing.T, ctx context.Context, cli *client.Client) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netprobe")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./testdata/netprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build netprobe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY netprobe /netprobe\nUSER 65534:65534\nENTRYPOINT [\"/netprobe\"]\n")},
		{"netprobe", 0o755, data},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	tag := testenv.UniqueName("warder-test/egress-probe:t")
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing image %s: %v", tag, err)
		}
	})
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var m struct {
			Error       string
			ErrorDetail *struct{ Message string }
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("building %s: %v", tag, err)
		}
		if m.Error != "" {
			t.Fatalf("building %s: %s", tag, m.Error)
		}
	}
	return tag
}

// makeNetwork makes a bridge network, removed by name at the test's end.
func makeNetwork(t *testing.T, ctx context.Context, cli *client.Client, name string, internal bool) network.Inspect {
	t.Helper()
	if _, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Internal: internal}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("removing network %s: %v", name, err)
		}
	})
	res, err := cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Network.IPAM.Config) == 0 {
		t.Fatalf("network %s has no address range", name)
	}
	return res.Network
}

// runContainer starts image with args on net; it is removed by id at the
// test's end (registered before the network's removal runs, so first).
func runContainer(t *testing.T, ctx context.Context, cli *client.Client, image, net string, env []string, args ...string) string {
	t.Helper()
	name := testenv.UniqueName("wegress-c-")
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             name,
		Config:           &container.Config{Image: image, Cmd: args, Env: env, Tty: true},
		HostConfig:       &container.HostConfig{NetworkMode: container.NetworkMode(net)},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing container %s: %v", name, err)
		}
	})
	if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func containerIP(t *testing.T, ctx context.Context, cli *client.Client, id, net string) netip.Addr {
	t.Helper()
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep := res.Container.NetworkSettings.Networks[net]
	if ep == nil || !ep.IPAddress.IsValid() {
		t.Fatalf("container %s has no address on %s", id, net)
	}
	return ep.IPAddress
}

// waitOutput waits for container id to exit and returns its output.
func waitOutput(t *testing.T, ctx context.Context, cli *client.Client, id string) string {
	t.Helper()
	w := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		t.Fatalf("waiting for %s: %v", id, err)
	}
	logs, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	b, err := io.ReadAll(io.LimitReader(logs, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
