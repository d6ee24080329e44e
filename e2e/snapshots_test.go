package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/e2etest"
	"github.com/warder/warder/internal/testkit/testenv"
	"github.com/warder/warder/snapshot"
	"github.com/warder/warder/wire"
)

// snapshotUsers is a server on a network of its own (snap-) and two users
// of it, alice and bob, whose clients check every answer against the
// OpenAPI document.
func snapshotUsers(t *testing.T, change func(*app.Config)) (ts *testServer, alice, bob *client.Client) {
	t.Helper()
	ts = newTestServer(t, func(c *app.Config) {
		c.Network = e2etest.Network(t, "snap-net-")
		if change != nil {
			change(c)
		}
	})
	hc := checked(t, ts)
	users := make([]*client.Client, 2)
	for i, name := range []string{"alice", "bob"} {
		ctx := context.Background()
		if _, err := client.New(ts.URL, "", client.WithHTTPClient(hc)).Register(ctx, wire.RegisterRequest{Username: name, Email: name + "@example.com", Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
		c, err := client.Login(ctx, ts.URL, name, "correct horse", client.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		users[i] = c
	}
	return ts, users[0], users[1]
}

// files is c without its OpenAPI check, for the files calls on the
// workspace root ("files/"), which the checker matches to no operation.
func files(c *client.Client) *client.Client { return client.New(c.BaseURL(), c.Token()) }

// snapTree is a workspace's files: path -> content; a path ending in "/" is
// a directory.
type snapTree map[string][]byte

// tarOf is t as a tar, files 0644 (0755 under bin/).
func snapTar(t *testing.T, files snapTree) io.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}
		switch {
		case strings.HasSuffix(name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(name, "bin/"):
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	return &b
}

// randomBytes is n bytes from a seeded generator.
func seededBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// hashes reads the agent's whole workspace and describes every entry:
// a file by its mode and SHA-256, a directory as "dir".
func workspaceHashes(t *testing.T, c *client.Client, id string) map[string]string {
	t.Helper()
	rc, err := files(c).ReadTar(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		_, name, _ := strings.Cut(strings.TrimSuffix(h.Name, "/"), "/") // below data/
		switch {
		case name == "":
		case h.Typeflag == tar.TypeDir:
			out[name] = "dir"
		default:
			sum := sha256.New()
			io.Copy(sum, tr)
			out[name] = fmt.Sprintf("%o %s", h.Mode&0o777, hex.EncodeToString(sum.Sum(nil)))
		}
	}
}

func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("%s:\ngot  %v\nwant %v", what, got, want)
	}
}

func mustOK[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantStatus(t *testing.T, err error, want int) {
	t.Helper()
	if got := client.StatusOf(err); got != want {
		t.Fatalf("want %d, got %d (%v)", want, got, err)
	}
}

// firstTree is what the tests snapshot: nested directories, an
// executable, an empty file, text and 3 MB of random bytes.
func firstSnapTree() snapTree {
	return snapTree{
		"notes.txt":            []byte("first version\n"),
		"bin/run":              []byte("#!/bin/sh\necho hi\n"),
		"deep/a/b/c/leaf.json": []byte(`{"k": 1}`),
		"empty":                nil,
		"emptydir/":            nil,
		"blob.bin":             seededBytes(1, 3<<20),
	}
}

// TestSnapshotRestoreFork on Docker, with the local store: a snapshot
// restores the exact bytes into a running agent; a fork (now, or from a
// snapshot) is independent of its parent; another user reaches none of
// it; a damaged snapshot is refused and leaves the workspace as it was;
// deleting the agent deletes its snapshots unless kept.
func TestSnapshotRestoreFork(t *testing.T) {
	ts, alice, bob := snapshotUsers(t, nil)
	dataDir := ts.Config.DataDir
	dataFile := func(agentID, snapID string) string {
		return filepath.Join(dataDir, "snapshots", agentID, snapID+".tar.zst")
	}
	snapshotRestoreFork(t, alice, bob, func(agentID, snapID string) {
		if _, err := os.Stat(dataFile(agentID, snapID)); err != nil {
			t.Fatalf("not in the store's directory: %v", err)
		}
	}, dataFile)
}

// TestSnapshotRestoreS3 is the same on an S3 store: a SeaweedFS of the
// test's own.
func TestSnapshotRestoreS3(t *testing.T) {
	s3 := testenv.NewS3Server(t)
	cfg := snapshot.S3Config{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: "warder-snapshots", Prefix: "e2e/",
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true}
	st := mustOK[*snapshot.S3Store](t)(snapshot.NewS3Store(cfg))
	if err := st.CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts, alice, bob := snapshotUsers(t, func(c *app.Config) { c.Snapshots.S3 = cfg })
	snapshotRestoreFork(t, alice, bob, func(agentID, snapID string) {
		if _, err := st.Stat(context.Background(), agentID+"/"+snapID+".tar.zst"); err != nil {
			t.Fatalf("not in the bucket: %v", err)
		}
		if _, err := os.Stat(filepath.Join(ts.Config.DataDir, "snapshots", agentID)); err == nil {
			t.Fatal("in the local directory too")
		}
	}, nil)
}

// snapshotRestoreFork is the walk both stores take; stored checks that a
// snapshot taken is where the store keeps it; dataFile, when not nil,
// names a snapshot's data file, to damage it.
func snapshotRestoreFork(t *testing.T, alice, bob *client.Client, stored func(agentID, snapID string), dataFile func(agentID, snapID string) string) {
	ctx := context.Background()
	a := mustOK[*wire.Agent](t)(alice.CreateAgent(ctx, wire.AgentCreate{Name: "src", ContainerConfig: warder.ContainerConfig{
		MemoryLimit: "64m", AutoStart: true, EnvVars: map[string]string{"COLOR": "blue"}}}))
	mustOK[*wire.FileWritten](t)(files(alice).WriteTar(ctx, a.ID, "", snapTar(t, firstSnapTree())))
	v1 := workspaceHashes(t, alice, a.ID)
	if len(v1) != 11 { // 6 entries, and bin, deep/a/b/c's four directories
		t.Fatalf("workspace: %v", v1)
	}

	snap := mustOK[*wire.Snapshot](t)(alice.TakeSnapshot(ctx, a.ID, "v1"))
	if snap.Name != "v1" || snap.SizeBytes <= 0 || snap.WorkspaceBytes < 3<<20 || snap.AgentID != a.ID || len(snap.SHA256) != 64 {
		t.Fatalf("snapshot: %+v", snap)
	}
	stored(a.ID, snap.ID)
	// Held still while it was read: paused, then running again.
	if now := mustOK[*wire.Agent](t)(alice.Agent(ctx, a.ID)); now.Status != warder.StatusRunning {
		t.Fatalf("after the snapshot: %s", now.Status)
	}
	var paused bool
	for _, ev := range mustOK[[]*wire.AgentEvent](t)(alice.AgentEvents(ctx, a.ID, 50)) {
		paused = paused || (ev.To == warder.StatusPaused && strings.Contains(ev.Reason, "copied"))
	}
	if !paused {
		t.Fatal("the agent was not paused while its workspace was read")
	}
	list := mustOK[*wire.SnapshotsResponse](t)(alice.Snapshots(ctx, a.ID))
	if len(list.Snapshots) != 1 || list.Snapshots[0].ID != snap.ID || list.UsedBytes != snap.SizeBytes {
		t.Fatalf("list: %+v", list)
	}

	// Change it: a file rewritten, one deleted, new ones.
	mustOK[*wire.FileWritten](t)(alice.WriteFile(ctx, a.ID, "notes.txt", strings.NewReader("second version\n")))
	if err := alice.RemoveFile(ctx, a.ID, "deep"); err != nil {
		t.Fatal(err)
	}
	mustOK[*wire.FileWritten](t)(alice.WriteTar(ctx, a.ID, "new", snapTar(t, snapTree{"x.txt": []byte("new")})))
	if maps.Equal(workspaceHashes(t, alice, a.ID), v1) {
		t.Fatal("the changes changed nothing")
	}

	// Nobody else reaches any of it: as for an agent that does not exist.
	_, err := bob.Snapshots(ctx, a.ID)
	wantStatus(t, err, 404)
	_, err = bob.TakeSnapshot(ctx, a.ID, "mine")
	wantStatus(t, err, 404)
	_, err = bob.RestoreSnapshot(ctx, a.ID, snap.ID)
	wantStatus(t, err, 404)
	_, err = bob.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "stolen"})
	wantStatus(t, err, 404)
	_, err = bob.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "stolen", Snapshot: snap.ID})
	wantStatus(t, err, 404)
	wantStatus(t, bob.DeleteSnapshot(ctx, a.ID, snap.ID), 404)
	if all := mustOK[*wire.SnapshotsResponse](t)(bob.AllSnapshots(ctx)); len(all.Snapshots) != 0 {
		t.Fatalf("bob sees %+v", all.Snapshots)
	}

	// Restore: the exact bytes, the agent running again.
	restored := mustOK[*wire.Agent](t)(alice.RestoreSnapshot(ctx, a.ID, snap.ID))
	if restored.Status != warder.StatusRunning {
		t.Fatalf("after restore: %s (%s)", restored.Status, restored.StatusReason)
	}
	sameTree(t, "restored", workspaceHashes(t, alice, a.ID), v1)

	// Fork now, started: the same files and settings, then on its own.
	f := mustOK[*wire.Agent](t)(alice.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "fork", Start: true}))
	if f.Status != warder.StatusRunning || f.UserID != a.UserID || f.ContainerConfig.EnvVars["COLOR"] != "blue" || f.ID == a.ID {
		t.Fatalf("fork: %+v", f)
	}
	sameTree(t, "fork", workspaceHashes(t, alice, f.ID), v1)
	mustOK[*wire.FileWritten](t)(alice.WriteFile(ctx, f.ID, "only-in-fork", strings.NewReader("f")))
	mustOK[*wire.FileWritten](t)(alice.WriteFile(ctx, a.ID, "only-in-parent", strings.NewReader("p")))
	if h := workspaceHashes(t, alice, a.ID); h["only-in-fork"] != "" || h["only-in-parent"] == "" {
		t.Fatalf("parent sees the fork's write: %v", h)
	}
	if h := workspaceHashes(t, alice, f.ID); h["only-in-parent"] != "" || h["only-in-fork"] == "" {
		t.Fatalf("fork sees the parent's write: %v", h)
	}

	// Fork from the snapshot, not started.
	g := mustOK[*wire.Agent](t)(alice.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "from-v1", Snapshot: snap.ID}))
	if g.Status != warder.StatusCreated {
		t.Fatalf("fork from a snapshot, not started: %s", g.Status)
	}
	sameTree(t, "fork from the snapshot", workspaceHashes(t, alice, g.ID), v1)
	// A name taken is refused, and leaves no agent.
	_, err = alice.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "fork"})
	wantStatus(t, err, 409)

	if dataFile != nil {
		// A damaged snapshot is refused before the workspace is touched.
		before := workspaceHashes(t, alice, a.ID)
		p := dataFile(a.ID, snap.ID)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = alice.RestoreSnapshot(ctx, a.ID, snap.ID)
		wantStatus(t, err, 409)
		if !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("damaged: %v", err)
		}
		sameTree(t, "after a refused restore", workspaceHashes(t, alice, a.ID), before)
		_, err = alice.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "from-damaged", Snapshot: snap.ID})
		wantStatus(t, err, 409)
		if _, err := alice.AgentByName(ctx, "from-damaged"); client.StatusOf(err) != 404 {
			t.Fatalf("a failed fork left an agent: %v", err)
		}
		b[len(b)/2] ^= 0xff
		os.WriteFile(p, b, 0o600)
	}

	// Deleting an agent deletes its snapshots, unless asked to keep them.
	s2 := mustOK[*wire.Snapshot](t)(alice.TakeSnapshot(ctx, g.ID, "of-g"))
	if err := alice.DeleteAgent(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range mustOK[*wire.SnapshotsResponse](t)(alice.AllSnapshots(ctx)).Snapshots {
		if s.ID == s2.ID {
			t.Fatal("a deleted agent's snapshot is still listed")
		}
	}
	if err := alice.DeleteAgentWith(ctx, a.ID, client.DeleteOptions{KeepSnapshots: true}); err != nil {
		t.Fatal(err)
	}
	kept := mustOK[*wire.SnapshotsResponse](t)(alice.Snapshots(ctx, a.ID))
	if len(kept.Snapshots) != 1 || kept.Snapshots[0].ID != snap.ID {
		t.Fatalf("kept: %+v", kept)
	}
	_, err = bob.Snapshots(ctx, a.ID)
	wantStatus(t, err, 404)
	h := mustOK[*wire.Agent](t)(alice.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "revived", Snapshot: snap.ID}))
	sameTree(t, "fork of a deleted agent's kept snapshot", workspaceHashes(t, alice, h.ID), v1)
	if err := alice.DeleteSnapshot(ctx, a.ID, snap.ID); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Snapshots(ctx, a.ID)
	wantStatus(t, err, 404)

	// Audited like every call that changes something (alice, the first
	// user, is the admin who reads the log): bob's refusals too.
	seen := map[string]bool{}
	for _, e := range mustOK[[]*wire.AuditEntry](t)(alice.Audit(ctx, client.AuditQuery{AgentID: a.ID, Limit: 500})) {
		seen[fmt.Sprint(e.Username, " ", e.Action, " ", e.Status)] = true
	}
	for _, want := range []string{
		"alice POST /api/agents/{id}/snapshots 201",
		"alice POST /api/agents/{id}/snapshots/{sid}/restore 200",
		"alice POST /api/agents/{id}/fork 201",
		"alice DELETE /api/agents/{id}/snapshots/{sid} 200",
		"bob POST /api/agents/{id}/snapshots 404",
		"bob POST /api/agents/{id}/fork 404",
	} {
		if !seen[want] {
			t.Errorf("not audited: %s (have %v)", want, seen)
		}
	}
}

// TestSnapshotBounds: a fork past the owner's workspace bound and a
// snapshot past the per-agent count are refused before any work; a
// snapshot that would pass the snapshot bytes left stops as it streams
// and leaves nothing listed.
func TestSnapshotBounds(t *testing.T) {
	_, alice, _ := snapshotUsers(t, func(c *app.Config) { c.Snapshots.PerAgent, c.WorkspaceBytesPerUser = 2, 3<<20 })
	ctx := context.Background()
	a := mustOK[*wire.Agent](t)(alice.CreateAgent(ctx, wire.AgentCreate{Name: "b", ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m"}}))
	mustOK[*wire.FileWritten](t)(alice.WriteFile(ctx, a.ID, "r.bin", bytes.NewReader(seededBytes(2, 2<<20))))
	// A fork would take the owner's workspaces past their bound: refused
	// before any agent is made.
	_, err := alice.ForkAgent(ctx, a.ID, wire.ForkRequest{Name: "too-much"})
	wantStatus(t, err, 409)
	if !strings.Contains(err.Error(), "WARDER_MAX_WORKSPACE_BYTES_PER_USER") {
		t.Fatal(err)
	}
	if list := mustOK[[]*wire.Agent](t)(alice.Agents(ctx)); len(list) != 1 {
		t.Fatalf("a refused fork left agents: %d", len(list))
	}
	mustOK[*wire.Snapshot](t)(alice.TakeSnapshot(ctx, a.ID, "one"))
	mustOK[*wire.Snapshot](t)(alice.TakeSnapshot(ctx, a.ID, "two"))
	_, err = alice.TakeSnapshot(ctx, a.ID, "three")
	wantStatus(t, err, 409)
	if !strings.Contains(err.Error(), "WARDER_MAX_SNAPSHOTS_PER_AGENT") {
		t.Fatal(err)
	}
	if n := len(mustOK[*wire.SnapshotsResponse](t)(alice.Snapshots(ctx, a.ID)).Snapshots); n != 2 {
		t.Fatalf("%d snapshots after a refusal", n)
	}

	// Bytes: a server with a bound of 1 MiB a user. A snapshot that
	// would pass what is left stops as it streams, and leaves nothing.
	_, carol, _ := snapshotUsers(t, func(c *app.Config) { c.Snapshots.UserBytes = 1 << 20 })
	b := mustOK[*wire.Agent](t)(carol.CreateAgent(ctx, wire.AgentCreate{Name: "b", ContainerConfig: warder.ContainerConfig{MemoryLimit: "64m"}}))
	// Random bytes do not compress.
	mustOK[*wire.FileWritten](t)(carol.WriteFile(ctx, b.ID, "r.bin", bytes.NewReader(seededBytes(3, 600<<10))))
	first := mustOK[*wire.Snapshot](t)(carol.TakeSnapshot(ctx, b.ID, "first"))
	_, err = carol.TakeSnapshot(ctx, b.ID, "second")
	wantStatus(t, err, 409)
	if !strings.Contains(err.Error(), "WARDER_MAX_SNAPSHOT_BYTES_PER_USER") {
		t.Fatal(err)
	}
	list := mustOK[*wire.SnapshotsResponse](t)(carol.Snapshots(ctx, b.ID))
	if len(list.Snapshots) != 1 || list.Snapshots[0].ID != first.ID || list.LimitBytes != 1<<20 || list.UsedBytes != first.SizeBytes {
		t.Fatalf("after a refused snapshot: %+v", list)
	}
	// Deleting one makes room again.
	if err := carol.DeleteSnapshot(ctx, b.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	mustOK[*wire.Snapshot](t)(carol.TakeSnapshot(ctx, b.ID, "again"))
}
