package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/docker"
	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/snapshot"
	"github.com/warder/warder/wire"
)

// noise is n bytes of a seeded generator, streamed: random bytes do not
// compress, so a snapshot of them takes its time.
type noise struct {
	rng *rand.Rand
	n   int64
	v   uint64
}

func (r *noise) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	for i := range p {
		if i%8 == 0 {
			r.v = r.rng.Uint64()
		}
		p[i] = byte(r.v >> (8 * (i % 8)))
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// TestKill9DuringSnapshot: Warder, run as its own process, is killed
// with SIGKILL while it writes a snapshot of a running agent's 240 MB
// workspace. Nothing complete-looking is left (no manifest, no visible
// data object: only a hidden partial file, which List skips); started
// again, Warder lists no snapshot; no files helper is left running; the
// agent, paused for the snapshot when Warder died, resumes; and a new
// snapshot is taken and listed.
func TestKill9DuringSnapshot(t *testing.T) {
	image, binary := testImage(t)
	bin := e2etest.BuildWarder(t)
	network := e2etest.Network(t, "snapkill-net-")
	dataDir := t.TempDir()
	port := freePort(t)
	env := append(os.Environ(),
		"WARDER_ADDR=127.0.0.1:"+fmt.Sprint(port), "WARDER_DATA_DIR="+dataDir, "AGENT_NETWORK="+network,
		"AGENT_IMAGE="+image, "WARDER_AGENT_BINARY="+binary, "WARDER_LOG_LEVEL=warn",
		"WARDER_WORKSPACE_DIR=off", "WARDER_FILES_HELPER_IDLE=2s",
		"AGENT_PORT_RANGE_START=19800", "AGENT_PORT_RANGE_END=19849")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitUp(t, port)
		return cmd
	}
	proc := start()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := context.Background()
	if _, err := client.New(base, "").Register(ctx, wire.RegisterRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	c := mustOK[*client.Client](t)(client.Login(ctx, base, "alice", "correct horse"))
	a := mustOK[*wire.Agent](t)(c.CreateAgent(ctx, wire.AgentCreate{Name: "big", ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m", AutoStart: true}}))
	t.Cleanup(func() { cleanupByName(t, []apitest.Agent{{Agent: warder.Agent{ID: a.ID}}}, network) })
	for i := range 2 {
		r := &noise{rng: rand.New(rand.NewPCG(uint64(i), 9)), n: 120 << 20}
		mustOK[*wire.FileWritten](t)(c.WriteFile(ctx, a.ID, fmt.Sprintf("part%d.bin", i), r))
	}

	// The snapshot's data file appears hidden while it is written: kill
	// Warder once some of it is there.
	dir := filepath.Join(dataDir, "snapshots", a.ID)
	go c.TakeSnapshot(ctx, a.ID, "doomed")
	deadline := time.Now().Add(time.Minute)
	for partial := ""; partial == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot being written after a minute")
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && strings.Contains(e.Name(), ".partial-") && info.Size() > 4<<20 {
				partial = e.Name()
			}
		}
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".partial-") {
			t.Errorf("a killed snapshot left %s", e.Name())
		}
	}
	st := mustOK[*snapshot.DirStore](t)(snapshot.NewDirStore(filepath.Join(dataDir, "snapshots")))
	arch := mustOK[*snapshot.Archive](t)(snapshot.NewArchive(st, snapshot.Config{}))
	if list := mustOK[[]*snapshot.Manifest](t)(arch.List(ctx, "")); len(list) != 0 {
		t.Fatalf("listed after the kill: %+v", list)
	}

	proc = start()
	t.Cleanup(func() { proc.Process.Signal(syscall.SIGTERM); proc.Wait() })
	if list := mustOK[*wire.SnapshotsResponse](t)(c.Snapshots(ctx, a.ID)); len(list.Snapshots) != 0 || list.UsedBytes != 0 {
		t.Fatalf("listed after the restart: %+v", list)
	}
	// The files helper that read the workspace is gone within its idle
	// time, with its exec's connection.
	cli := dockerClient(t)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		res, err := cli.ContainerList(ctx, moby.ContainerListOptions{All: true,
			Filters: moby.Filters{}.Add("label", docker.LabelHelper+"="+network)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d helper containers left a minute after the kill", len(res.Items))
		}
	}
	// Paused for the snapshot when Warder died: it resumes.
	now := mustOK[*wire.Agent](t)(c.Agent(ctx, a.ID))
	if now.Status == warder.StatusPaused {
		req, _ := http.NewRequest("POST", base+"/api/agents/"+a.ID+"/resume", nil)
		req.Header.Set("Authorization", "Bearer "+c.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("resume: %v %v", err, resp)
		}
		resp.Body.Close()
		now = mustOK[*wire.Agent](t)(c.Agent(ctx, a.ID))
	}
	if now.Status != warder.StatusRunning {
		t.Fatalf("after the restart: %s (%s)", now.Status, now.StatusReason)
	}
	snap := mustOK[*wire.Snapshot](t)(c.TakeSnapshot(ctx, a.ID, "after"))
	if list := mustOK[*wire.SnapshotsResponse](t)(c.Snapshots(ctx, a.ID)); len(list.Snapshots) != 1 || list.Snapshots[0].ID != snap.ID {
		t.Fatalf("after a new snapshot: %+v", list)
	}
}
