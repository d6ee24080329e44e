package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	osdk "github.com/alibaba/OpenSandbox/sdks/sandbox/go"

	"github.com/warder/warder/internal/testkit/apitest"
	"github.com/warder/warder/internal/testkit/e2etest"
)

// sdkConfig is the OpenSandbox SDK's connection to a Warder server.
func sdkConfig(base, key string) osdk.ConnectionConfig {
	return osdk.ConnectionConfig{Domain: base + "/api/opensandbox", APIKey: key, RequestTimeout: time.Minute}
}

// sdkExecd is an execd client for a sandbox's endpoint, for the calls
// the SDK's Sandbox does not wrap (status, logs, interrupt).
func sdkExecd(t *testing.T, ctx context.Context, sb *osdk.Sandbox) *osdk.ExecdClient {
	t.Helper()
	ep, err := sb.GetEndpoint(ctx, osdk.DefaultExecdPort)
	if err != nil {
		t.Fatalf("GetEndpoint: %v", err)
	}
	return osdk.NewExecdClient(ep.Endpoint, "", osdk.WithHeaders(ep.Headers))
}

// apiStatus is the HTTP status of an SDK error, 0 if it is not one.
func apiStatus(err error) int {
	var ae *osdk.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// TestOpenSandboxSDK drives a real Warder on Docker with OpenSandbox's own
// Go SDK (v1.2.1, unchanged): a sandbox from the default image made and
// ready, commands with their output and exit codes, a long one killed,
// files up and down (a range too), listed, searched, moved, pause and
// resume, a snapshot and a sandbox made from it, listing by state and
// metadata, renew, delete; another user's key sees none of it and a
// read-only key cannot create.
func TestOpenSandboxSDK(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	openSandboxFlow(t, ts.Server, false)
}

// TestKubernetesOpenSandboxSDK is the same flow on the test cluster,
// where a pause answers 501 (Kubernetes has no pause; docs/kubernetes.md).
func TestKubernetesOpenSandboxSDK(t *testing.T) {
	t.Parallel()
	ts, _ := e2etest.NewKubernetesServer(t, nil)
	openSandboxFlow(t, ts, true)
}

// openSandboxFlow is the SDK's own flows against the Warder at ts.
func openSandboxFlow(t *testing.T, ts *apitest.Server, kube bool) {
	alice := apitest.Register(t, ts.URL, "alice")
	_, key := alice.NewKey(map[string]any{"name": "sdk"})
	cfg := sdkConfig(ts.URL, key.Key)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	ten := 600
	sb, err := osdk.CreateSandbox(ctx, cfg, osdk.SandboxCreateOptions{
		Image:          ts.Config.Image,
		ResourceLimits: osdk.ResourceLimits{"cpu": "500m", "memory": "64Mi"},
		Metadata:       map[string]string{"team": "a", "run": "1"},
		Env:            map[string]string{"GREETING": "hello"},
		TimeoutSeconds: &ten,
	})
	if err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	// The sandbox is an agent of alice's, in Warder's own API.
	var a apitest.Agent
	alice.MustDo("GET", "/api/agents/"+sb.ID(), nil, 200, &a)
	if a.Status != "running" || a.ContainerConfig.MemoryLimit != "67108864b" || a.ContainerConfig.CPULimit != 0.5 {
		t.Fatalf("the sandbox's agent = %s, memory %q, cpu %v", a.Status, a.ContainerConfig.MemoryLimit, a.ContainerConfig.CPULimit)
	}

	t.Run("commands", func(t *testing.T) {
		ex, err := sb.RunCommand(ctx, "echo $GREETING world", nil)
		if err != nil || ex.Text() != "hello world\n" || ex.ExitCode == nil || *ex.ExitCode != 0 {
			t.Fatalf("echo: %v, text %q, exit %v", err, ex.Text(), ex.ExitCode)
		}
		ex, err = sb.RunCommand(ctx, "echo before; exit 3", nil)
		if err != nil || ex.ExitCode == nil || *ex.ExitCode != 3 || ex.Error == nil || ex.Text() != "before\n" {
			t.Fatalf("exit 3: %v, exit %v, error %+v, text %q", err, ex.ExitCode, ex.Error, ex.Text())
		}
		ex, err = sb.RunCommandWithOpts(ctx, osdk.RunCommandRequest{Command: "pwd", Cwd: "/data"}, nil)
		if err != nil || ex.Text() != "/data\n" {
			t.Fatalf("pwd in /data: %v, %q", err, ex.Text())
		}
	})

	t.Run("kill", func(t *testing.T) {
		ec := sdkExecd(t, ctx, sb)
		ex, err := sb.RunCommandWithOpts(ctx, osdk.RunCommandRequest{Command: "echo started; sleep 300", Background: true}, nil)
		if err != nil || ex.ID == "" {
			t.Fatalf("background: %v, id %q", err, ex.ID)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			logs, err := ec.GetCommandLogs(ctx, ex.ID, nil)
			if err == nil && strings.Contains(logs.Output, "started") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the background command's output never came: %v %+v", err, logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		st, err := ec.GetCommandStatus(ctx, ex.ID)
		if err != nil || !st.Running {
			t.Fatalf("status while it sleeps: %v %+v", err, st)
		}
		if err := ec.InterruptCommand(ctx, ex.ID); err != nil {
			t.Fatalf("InterruptCommand: %v", err)
		}
		st, err = ec.GetCommandStatus(ctx, ex.ID)
		if err != nil || st.Running || st.FinishedAt == nil {
			t.Fatalf("status after the kill: %v %+v", err, st)
		}
		// A foreground command killed while its caller waits.
		ids := make(chan string, 1)
		done := make(chan *osdk.Execution, 1)
		go func() {
			ex, _ := sb.RunCommand(ctx, "sleep 300", &osdk.ExecutionHandlers{OnInit: func(i osdk.ExecutionInit) error { ids <- i.ID; return nil }})
			done <- ex
		}()
		id := <-ids
		if err := ec.InterruptCommand(ctx, id); err != nil {
			t.Fatalf("InterruptCommand (foreground): %v", err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the killed foreground command's stream never ended")
		}
	})

	t.Run("files", func(t *testing.T) {
		err := sb.UploadFile(ctx, strings.NewReader("hello world"), osdk.UploadFileOptions{Metadata: osdk.FileMetadata{Path: "/data/dir/a.txt", Mode: 640}})
		if err != nil {
			t.Fatalf("UploadFile: %v", err)
		}
		rc, err := sb.DownloadFile(ctx, "/data/dir/a.txt", "")
		if err != nil {
			t.Fatalf("DownloadFile: %v", err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "hello world" {
			t.Fatalf("downloaded %q", b)
		}
		part, err := sb.DownloadFileResponse(ctx, "/data/dir/a.txt", "bytes=6-10")
		if err != nil {
			t.Fatalf("DownloadFileResponse: %v", err)
		}
		b, _ = io.ReadAll(part.Body)
		part.Body.Close()
		if string(b) != "world" || !part.IsPartial() || part.TotalSize != 11 {
			t.Fatalf("range: %q partial %v total %d", b, part.IsPartial(), part.TotalSize)
		}
		info, err := sb.GetFileInfo(ctx, "/data/dir/a.txt")
		if fi := info["/data/dir/a.txt"]; err != nil || fi.Size != 11 || fi.Mode != 640 {
			t.Fatalf("GetFileInfo: %v %+v", err, info)
		}
		if err := sb.CreateDirectory(ctx, "/data/made/deep", 755); err != nil {
			t.Fatalf("CreateDirectory: %v", err)
		}
		list, err := sb.ListDirectoryWithDepth(ctx, "/data", 3)
		if err != nil || !hasPath(list, "/data/dir/a.txt") || !hasPath(list, "/data/made/deep") {
			t.Fatalf("ListDirectoryWithDepth: %v %+v", err, list)
		}
		found, err := sb.SearchFiles(ctx, "/data", "*.txt")
		if err != nil || len(found) != 1 || found[0].Path != "/data/dir/a.txt" {
			t.Fatalf("SearchFiles: %v %+v", err, found)
		}
		if err := sb.MoveFiles(ctx, osdk.MoveRequest{{Src: "/data/dir/a.txt", Dest: "/data/made/b.txt"}}); err != nil {
			t.Fatalf("MoveFiles: %v", err)
		}
		if _, err := sb.GetFileInfo(ctx, "/data/dir/a.txt"); apiStatus(err) != 404 {
			t.Fatalf("the moved file is still there: %v", err)
		}
		if err := sb.SetPermissions(ctx, osdk.PermissionsRequest{"/data/made/b.txt": {Mode: 600}}); err != nil {
			t.Fatalf("SetPermissions: %v", err)
		}
		info, err = sb.GetFileInfo(ctx, "/data/made/b.txt")
		if fi := info["/data/made/b.txt"]; err != nil || fi.Mode != 600 || fi.Size != 11 {
			t.Fatalf("after the move and chmod: %v %+v", err, info)
		}
		// The file is the agent's: a command sees it.
		ex, err := sb.RunCommand(ctx, "cat /data/made/b.txt", nil)
		if err != nil || ex.Text() != "hello world" {
			t.Fatalf("cat: %v %q", err, ex.Text())
		}
		if err := sb.UploadFile(ctx, strings.NewReader("x"), osdk.UploadFileOptions{Metadata: osdk.FileMetadata{Path: "/etc/passwd"}}); apiStatus(err) != 400 {
			t.Fatalf("an upload outside the workspace = %v, want a 400", err)
		}
		if err := sb.DeleteFiles(ctx, []string{"/data/made/b.txt"}); err != nil {
			t.Fatalf("DeleteFiles: %v", err)
		}
	})

	lc := osdk.NewLifecycleClient(ts.URL+"/api/opensandbox/v1", key.Key)
	t.Run("pause", func(t *testing.T) {
		if kube {
			if err := sb.Pause(ctx); apiStatus(err) != 501 {
				t.Fatalf("Pause on Kubernetes = %v, want 501", err)
			}
			return
		}
		if err := sb.Pause(ctx); err != nil {
			t.Fatalf("Pause: %v", err)
		}
		info, err := sb.GetInfo(ctx)
		if err != nil || info.Status.State != osdk.StatePaused {
			t.Fatalf("after Pause: %v %+v", err, info)
		}
		paused, err := lc.ListSandboxes(ctx, osdk.ListOptions{States: []osdk.SandboxState{osdk.StatePaused}})
		if err != nil || len(paused.Items) != 1 {
			t.Fatalf("paused sandboxes: %v %+v", err, paused)
		}
		sb2, err := sb.Resume(ctx)
		if err != nil {
			t.Fatalf("Resume: %v", err)
		}
		sb = sb2
		if ex, err := sb.RunCommand(ctx, "echo back", nil); err != nil || ex.Text() != "back\n" {
			t.Fatalf("after Resume: %v %q", err, ex.Text())
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		if err := sb.UploadFile(ctx, strings.NewReader("kept"), osdk.UploadFileOptions{Metadata: osdk.FileMetadata{Path: "/data/kept.txt"}}); err != nil {
			t.Fatalf("UploadFile: %v", err)
		}
		snap, err := sb.CreateSnapshot(ctx, osdk.CreateSnapshotRequest{Name: "before"})
		if err != nil || snap.Status.State != osdk.SnapshotStateReady || snap.SandboxID != sb.ID() {
			t.Fatalf("CreateSnapshot: %v %+v", err, snap)
		}
		snaps, err := lc.ListSnapshots(ctx, osdk.ListSnapshotsOptions{SandboxID: sb.ID()})
		if err != nil || len(snaps.Items) != 1 || snaps.Items[0].ID != snap.ID {
			t.Fatalf("ListSnapshots: %v %+v", err, snaps)
		}
		fork, err := osdk.CreateSandbox(ctx, cfg, osdk.SandboxCreateOptions{SnapshotID: snap.ID, Metadata: map[string]string{"team": "fork"}})
		if err != nil {
			t.Fatalf("CreateSandbox from the snapshot: %v", err)
		}
		rc, err := fork.DownloadFile(ctx, "/data/kept.txt", "")
		if err != nil {
			t.Fatalf("the fork's file: %v", err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "kept" {
			t.Fatalf("the fork's file = %q", b)
		}
		if err := fork.Kill(ctx); err != nil {
			t.Fatalf("Kill the fork: %v", err)
		}
		if err := lc.DeleteSnapshot(ctx, snap.ID); err != nil {
			t.Fatalf("DeleteSnapshot: %v", err)
		}
	})

	t.Run("list, metadata, renew", func(t *testing.T) {
		got, err := lc.ListSandboxes(ctx, osdk.ListOptions{States: []osdk.SandboxState{osdk.StateRunning}, Metadata: map[string]string{"team": "a"}})
		if err != nil || len(got.Items) != 1 || got.Items[0].ID != sb.ID() || got.Pagination.TotalItems != 1 {
			t.Fatalf("running sandboxes of team a: %v %+v", err, got)
		}
		got, err = lc.ListSandboxes(ctx, osdk.ListOptions{Metadata: map[string]string{"team": "b"}})
		if err != nil || len(got.Items) != 0 {
			t.Fatalf("sandboxes of team b: %v %+v", err, got)
		}
		bye := "x"
		info, err := sb.PatchMetadata(ctx, osdk.MetadataPatch{"run": nil, "owner": &bye})
		if err != nil || info.Metadata["run"] != "" || info.Metadata["owner"] != "x" || info.Metadata["team"] != "a" {
			t.Fatalf("PatchMetadata: %v %+v", err, info)
		}
		want := time.Now().Add(2 * time.Hour)
		renewed, err := sb.Renew(ctx, 2*time.Hour)
		if err != nil || renewed.ExpiresAt.Sub(want).Abs() > time.Minute {
			t.Fatalf("Renew: %v %+v", err, renewed)
		}
		info, err = sb.GetInfo(ctx)
		if err != nil || info.ExpiresAt == nil || !info.ExpiresAt.Equal(renewed.ExpiresAt) {
			t.Fatalf("the renewed expiration: %v %+v", err, info)
		}
		logs, err := sb.GetDiagnosticLogs(ctx, "")
		if err != nil || logs.Content == nil || !strings.Contains(*logs.Content, "warder-agent") {
			t.Fatalf("GetDiagnosticLogs: %v %+v", err, logs)
		}
		evs, err := sb.GetDiagnosticEvents(ctx, "")
		if err != nil || evs.Content == nil || !strings.Contains(*evs.Content, "-> running") {
			t.Fatalf("GetDiagnosticEvents: %v %+v", err, evs)
		}
		pol, err := lc.GetNetworkPolicy(ctx, sb.ID())
		if err != nil || pol.Policy == nil || pol.Policy.DefaultAction != "allow" {
			t.Fatalf("GetNetworkPolicy: %v %+v", err, pol)
		}
	})

	t.Run("tenants", func(t *testing.T) {
		bob := apitest.Register(t, ts.URL, "bob")
		_, bobKey := bob.NewKey(map[string]any{"name": "sdk"})
		blc := osdk.NewLifecycleClient(ts.URL+"/api/opensandbox/v1", bobKey.Key)
		if _, err := blc.GetSandbox(ctx, sb.ID()); apiStatus(err) != 404 {
			t.Fatalf("bob's GetSandbox of alice's = %v, want 404", err)
		}
		if list, err := blc.ListSandboxes(ctx, osdk.ListOptions{}); err != nil || len(list.Items) != 0 {
			t.Fatalf("bob's list = %v %+v", err, list)
		}
		if _, err := blc.GetEndpoint(ctx, sb.ID(), osdk.DefaultExecdPort, nil); apiStatus(err) != 404 {
			t.Fatalf("bob's GetEndpoint of alice's = %v, want 404", err)
		}
		// Alice's endpoint token does not open bob's calls to another path.
		ep, err := sb.GetEndpoint(ctx, osdk.DefaultExecdPort)
		if err != nil {
			t.Fatal(err)
		}
		other := strings.Replace(ep.Endpoint, sb.ID(), "00000000-0000-0000-0000-000000000000", 1)
		req, _ := http.NewRequestWithContext(ctx, "GET", other+"/ping", nil)
		for k, v := range ep.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("a token on another sandbox's path = %v %v, want 401", err, resp)
		}
		resp.Body.Close()
		_, roKey := alice.NewKey(map[string]any{"name": "ro", "read_only": true})
		rlc := osdk.NewLifecycleClient(ts.URL+"/api/opensandbox/v1", roKey.Key)
		if _, err := rlc.CreateSandbox(ctx, osdk.CreateSandboxRequest{Image: &osdk.ImageSpec{URI: ts.Config.Image}, ResourceLimits: osdk.ResourceLimits{"cpu": "250m", "memory": "32Mi"}}); apiStatus(err) != 403 {
			t.Fatalf("a read-only key's create = %v, want 403", err)
		}
		if _, err := rlc.GetSandbox(ctx, sb.ID()); err != nil {
			t.Fatalf("a read-only key's get: %v", err)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		one := 1
		short, err := osdk.CreateSandbox(ctx, cfg, osdk.SandboxCreateOptions{Image: ts.Config.Image, ResourceLimits: osdk.ResourceLimits{"cpu": "250m", "memory": "32Mi"}, TimeoutSeconds: &one, SkipHealthCheck: true})
		if err != nil {
			t.Fatalf("CreateSandbox: %v", err)
		}
		deadline := time.Now().Add(45 * time.Second)
		for {
			_, err := lc.GetSandbox(ctx, short.ID())
			if apiStatus(err) == 404 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the expired sandbox is still there: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	if err := sb.Kill(ctx); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if _, err := lc.GetSandbox(ctx, sb.ID()); apiStatus(err) != 404 {
		t.Fatalf("GetSandbox after Kill = %v, want 404", err)
	}
}

func hasPath(list []osdk.FileInfo, p string) bool {
	for _, f := range list {
		if f.Path == p {
			return true
		}
	}
	return false
}
