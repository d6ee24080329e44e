package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/warder/warder"
	"github.com/warder/warder/internal/testkit/testenv"
)

// wsRuntime is a runtime on a network of its own named for this work
// (wws-), and a spec with a workspace volume whose removal is registered.
func wsRuntime(t testing.TB) (*Runtime, warder.WorkloadSpec) {
	t.Helper()
	r := newRuntime(t, func(c *Config) { c.Network = testenv.UniqueName("wws-net-") })
	if err := r.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, r)
	spec.Labels[warder.LabelManaged] = r.cfg.Network
	vol := testenv.UniqueName("wws-vol-")
	spec.Workspace = &warder.WorkspaceSpec{Name: vol, MountPath: warder.WorkspaceMountPath,
		Labels: map[string]string{warder.LabelWorkspace: r.cfg.Network, warder.LabelAgentID: spec.AgentID}}
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		r.Remove(ctx, spec.Name) // before the volume, which it holds
		if err := r.RemoveWorkspace(ctx, vol); err != nil {
			t.Errorf("cleanup: remove volume %s: %v", vol, err)
		}
	})
	return r, spec
}

// oneFile is a tar of one regular file.
func oneFile(name, body string) io.Reader {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	return &b
}

// readOne reads the first regular file of a tar.
func readOne(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no file in the tar: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

// TestWorkspaceFiles: files written into a stopped (never started)
// container are there for the agent once it runs, and after the
// container is made again; the agent's user may write the workspace;
// symlinks are refused; a delete removes a tree; usage is measured.
func TestWorkspaceFiles(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, r.WriteTar(ctx, id, "notes/deep", oneFile("a.txt", "hello workspace")))
	st, err := r.StatFile(ctx, id, "notes/deep/a.txt")
	must(t, err)
	if st.Type != warder.FileTypeFile || st.Size != 15 {
		t.Fatalf("stat: %+v", st)
	}
	list, err := r.ListDir(ctx, id, "notes", 100)
	must(t, err)
	if len(list) != 1 || list[0].Name != "deep" || list[0].Type != warder.FileTypeDir {
		t.Fatalf("listing: %+v", list)
	}
	must(t, started(r.Start(ctx, id)))
	var out strings.Builder
	code, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "cat", "/data/notes/deep/a.txt"}}, func(_ string, p []byte) error {
		out.Write(p)
		return nil
	})
	if err != nil || code != 0 || out.String() != "hello workspace" {
		t.Fatalf("the agent reads %q (exit %d, %v)", out.String(), code, err)
	}
	// The agent (65534) writes into the workspace and into the API's
	// directories.
	code, err = r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "write", "/data/notes/deep/b.txt"}, Stdin: strings.NewReader("by the agent")},
		func(string, []byte) error { return nil })
	if err != nil || code != 0 {
		t.Fatalf("the agent cannot write its workspace: exit %d, %v", code, err)
	}
	// A symlink the agent made is not followed.
	_, err = r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "mkdir", "/data/x"}}, func(string, []byte) error { return nil })
	must(t, err)

	// Made again (as after a settings change): the files are kept.
	must(t, r.Remove(ctx, id))
	id, err = r.Create(ctx, spec)
	must(t, err)
	got := readOne(t, must2(r.ReadTar(ctx, id, "notes/deep/b.txt")))
	if got != "by the agent" {
		t.Fatalf("after re-creation the file holds %q", got)
	}
	n, err := r.WorkspaceUsage(ctx, spec.Workspace.Name)
	must(t, err)
	if n != int64(len("hello workspace")+len("by the agent")) {
		t.Fatalf("usage %d", n)
	}
	must(t, r.RemoveFile(ctx, id, "notes"))
	if _, err := r.StatFile(ctx, id, "notes"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("deleted tree still there: %v", err)
	}
	if err := r.RemoveWorkspace(ctx, spec.Workspace.Name); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("removing a workspace in use: %v", err)
	}
}

// TestWorkspaceSymlinkRefused: links the agent makes in its workspace,
// at the top and below it, to its container's root, are followed by no
// file call, and an upload through one writes nothing anywhere (issue
// 26: `docs/l/x` with docs/l -> /etc wrote /etc/x in the agent's root).
func TestWorkspaceSymlinkRefused(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	agentDo(t, r, id, "mkdir", "/data/docs/d")
	agentDo(t, r, id, "ln", "/", "/data/escape")
	agentDo(t, r, id, "ln", "/etc", "/data/docs/l")
	agentDo(t, r, id, "ln", "/", "/data/docs/d/r")
	for _, p := range []string{"escape", "docs/l", "docs/d/r"} {
		for name, call := range map[string]func() error{
			"stat":  func() error { _, err := r.StatFile(ctx, id, p+"/warder-agent"); return err },
			"list":  func() error { _, err := r.ListDir(ctx, id, p, 10); return err },
			"read":  func() error { _, err := r.ReadTar(ctx, id, p+"/warder-agent"); return err },
			"write": func() error { return r.WriteTar(ctx, id, p+"/tmp", oneFile("x", "y")) },
			"rm":    func() error { return r.RemoveFile(ctx, id, p+"/warder-agent") },
		} {
			if err := call(); !errors.Is(err, warder.ErrInvalid) {
				t.Errorf("%s through %s: %v, want ErrInvalid", name, p, err)
			}
		}
	}
	// Entries whose parents are links, below the top level.
	for _, name := range []string{"docs/l/x", "docs/d/r/warder-agent", "docs/d/r/etc/x"} {
		if err := r.WriteTar(ctx, id, "", oneFile(name, "owned")); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("upload of %s: %v, want ErrInvalid", name, err)
		}
	}
	for _, p := range []string{"/etc/x", "/x"} {
		if _, err := r.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: p}); err == nil {
			t.Errorf("%s was written in the agent's root", p)
		}
	}
	st, err := r.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: "/warder-agent"})
	if err != nil || st.Stat.Size < 1000 {
		t.Errorf("the agent's entrypoint was replaced: %+v %v", st.Stat, err)
	}
	// A link itself is listed as one and may be deleted (its target
	// stays).
	list, err := r.ListDir(ctx, id, "docs", 10)
	must(t, err)
	kinds := map[string]string{}
	for _, e := range list {
		kinds[e.Name] = e.Type
	}
	if kinds["l"] != warder.FileTypeSymlink || kinds["d"] != warder.FileTypeDir {
		t.Errorf("listing of docs: %v", kinds)
	}
	must(t, r.RemoveFile(ctx, id, "docs/l"))
	if _, err := r.StatFile(ctx, id, "docs/l"); !errors.Is(err, warder.ErrNotFound) {
		t.Errorf("the link is still there: %v", err)
	}
}

// TestUploadRefusesLinkMadeDuring: a link the agent makes while an
// upload runs, where the upload is about to write, is not followed.
func TestUploadRefusesLinkMadeDuring(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- r.WriteTar(ctx, id, "", pr) }()
	tw := tar.NewWriter(pw)
	must(t, tw.WriteHeader(&tar.Header{Name: "race/", Typeflag: tar.TypeDir, Mode: 0o755}))
	must(t, tw.WriteHeader(&tar.Header{Name: "race/pad", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 20}))
	_, err = tw.Write(make([]byte, 1<<20))
	must(t, err)
	tw.Flush()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := r.StatFile(ctx, id, "race"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upload's first entries never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
	agentDo(t, r, id, "ln", "/", "/data/race/l")
	tw.WriteHeader(&tar.Header{Name: "race/l/x", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	tw.Write([]byte("owned"))
	tw.Close()
	pw.Close()
	if err := <-done; !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("upload through a link made during it: %v, want ErrInvalid", err)
	}
	if _, err := r.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: "/x"}); err == nil {
		t.Fatal("/x was written in the agent's root")
	}
	// The failed upload took back what it made; what the agent put in
	// its directory meanwhile (the link) stays, and so does the directory.
	list, err := r.ListDir(ctx, id, "race", 10)
	if err != nil || len(list) != 1 || list[0].Name != "l" {
		t.Fatalf("after the failed upload race/ holds %+v (%v), want only the agent's link", list, err)
	}
}

// TestFailedUploadRollsBackInOneCall: an upload of 500 top-level names
// that fails at its end removes all it made, with no helper container
// per name (issue 26: ~500 helpers over ~4 minutes), and keeps what was
// there before.
func TestFailedUploadRollsBackInOneCall(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, r.WriteTar(ctx, id, "", oneFile("kept.txt", "before")))
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := range 500 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("n%03d/f", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
		tw.Write([]byte("x"))
	}
	tw.Flush() // no end marker: the tar is cut short
	since := time.Now()
	if err := r.WriteTar(ctx, id, "", io.MultiReader(&b, strings.NewReader("garbage that is no tar header"))); err == nil {
		t.Fatal("a broken upload succeeded")
	}
	if n := helpersCreated(t, r, since); n != 0 {
		t.Errorf("%d helper containers for the rollback", n)
	}
	list, err := r.ListDir(ctx, id, "", 1000)
	must(t, err)
	if len(list) != 1 || list[0].Name != "kept.txt" {
		names := []string{}
		for _, e := range list {
			names = append(names, e.Name)
		}
		t.Fatalf("after the rollback the workspace holds %d entries: %v", len(list), names[:min(5, len(names))])
	}
}

// TestUploadImpliedDirsAreTheAgents: directories an upload only implies
// (d/d/f with no entry for d/ or d/d/, non-ASCII names too) belong to the
// agent, which can write in them, and DELETE removes them (issue 26: they
// were root's, and DELETE answered 409).
func TestUploadImpliedDirsAreTheAgents(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, r.WriteTar(ctx, id, "up", oneFile("d/d/f", "x")))
	must(t, r.WriteTar(ctx, id, "", oneFile("ü/ñ/日本/f", "x")))
	must(t, started(r.Start(ctx, id)))
	for _, dir := range []string{"/data/up", "/data/up/d/d", "/data/ü/ñ/日本"} {
		agentDo(t, r, id, "write", dir+"/by-agent")
	}
	must(t, r.RemoveFile(ctx, id, "up"))
	must(t, r.RemoveFile(ctx, id, "ü"))
	if list, err := r.ListDir(ctx, id, "", 10); err != nil || len(list) != 0 {
		t.Fatalf("after the deletes: %v %v", list, err)
	}
}

// TestFilesNameTooLong: a path element over 255 bytes is refused as
// invalid, never an engine error.
func TestFilesNameTooLong(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	long := strings.Repeat("a", 256)
	if err := r.WriteTar(ctx, id, "", oneFile("d/"+long, "x")); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("upload of a long name: %v", err)
	}
	if _, err := r.StatFile(ctx, id, long); !errors.Is(err, warder.ErrInvalid) {
		t.Fatalf("stat of a long name: %v", err)
	}
}

// agentDo runs a warder-agent built-in in the running container and
// fails the test unless it exits 0.
func agentDo(t *testing.T, r *Runtime, id string, args ...string) {
	t.Helper()
	var out strings.Builder
	code, err := r.Exec(context.Background(), id, warder.ExecSpec{Cmd: append([]string{"/warder-agent"}, args...), Stdin: strings.NewReader("by the agent")},
		func(_ string, p []byte) error { out.Write(p); return nil })
	if err != nil || code != 0 {
		t.Fatalf("%v in the agent: exit %d, %v: %s", args, code, err, out.String())
	}
}

// TestExecStreamsAndTimesOut: output comes in order with the exit code;
// a context that ends kills the process (it is gone from the container).
func TestExecStreamsAndTimesOut(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	id, err := r.Create(ctx, spec)
	must(t, err)
	must(t, started(r.Start(ctx, id)))
	var got []string
	code, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "ls", "/nonexistent", "/data"}}, func(s string, p []byte) error {
		got = append(got, s+":"+string(p))
		return nil
	})
	must(t, err)
	if code != 1 || len(got) == 0 || !strings.HasPrefix(got[0], "stderr:ls:") {
		t.Fatalf("exit %d, output %q", code, got)
	}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Exec(tctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "sleep", "300"}}, func(string, []byte) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 30*time.Second {
		t.Fatalf("a timed-out exec returned %v after %s", err, time.Since(start))
	}
	// The sleep is gone: the container's processes are the agent (1)
	// and this ls.
	var out strings.Builder
	_, err = r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "ls", "/proc"}}, func(_ string, p []byte) error { out.Write(p); return nil })
	must(t, err)
	pids := 0
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) == 5 && strings.Trim(f[4], "0123456789") == "" {
			pids++
		}
	}
	if pids != 2 {
		t.Fatalf("after the timeout the container has %d processes:\n%s", pids, out.String())
	}
	must(t, r.Stop(ctx, id, 5*time.Second))
	if _, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "env"}}, func(string, []byte) error { return nil }); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("exec in a stopped agent: %v", err)
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// helpersCreated counts the workspace helper containers of r's network
// created between since and now, from the engine's event log.
func helpersCreated(t *testing.T, r *Runtime, since time.Time) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	until := time.Now()
	res := r.cli.Events(ctx, client.EventsListOptions{
		Since: fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Until: fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
		Filters: client.Filters{}.Add("type", "container").Add("event", "create").
			Add("label", LabelHelper+"="+r.cfg.Network),
	})
	n := 0
	for {
		select {
		case <-res.Messages:
			n++
		case err := <-res.Err:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("reading the engine's events: %v", err)
			}
			return n
		}
	}
}

// TestWorkspaceOwnedAtCreate: the default image declares its /data the
// agent's (LabelWorkspaceOwner), so a fresh workspace is the agent's with
// no helper container; an image derived with another USER, or without the
// label, gets the helper; in every case the agent writes its workspace,
// and an existing workspace is mounted without the image's copy-up.
func TestWorkspaceOwnedAtCreate(t *testing.T) {
	r, spec := wsRuntime(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, image string
		helpers     int
	}{
		{"default image", r.cfg.DefaultImage, 0},
		{"another user", derivedImage(t, r, "USER 1234:1234"), 1},
		{"no label", derivedImage(t, r, "LABEL "+LabelWorkspaceOwner+"="), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := spec
			spec.Image = c.image
			since := time.Now()
			id, err := r.Create(ctx, spec)
			must(t, err)
			if got := helpersCreated(t, r, since); got != c.helpers {
				t.Errorf("%d helper containers for a fresh workspace, want %d", got, c.helpers)
			}
			must(t, started(r.Start(ctx, id)))
			code, err := r.Exec(ctx, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "write", "/data/mine.txt"}, Stdin: strings.NewReader(c.name)},
				func(string, []byte) error { return nil })
			if err != nil || code != 0 {
				t.Fatalf("the agent cannot write its workspace: exit %d, %v", code, err)
			}
			// Made again on the same workspace: nothing copied, nothing
			// lost, no helper.
			must(t, r.Remove(ctx, id))
			since = time.Now()
			id, err = r.Create(ctx, spec)
			must(t, err)
			if got := helpersCreated(t, r, since); got != 0 {
				t.Errorf("%d helper containers for an existing workspace", got)
			}
			if got := readOne(t, must2(r.ReadTar(ctx, id, "mine.txt"))); got != c.name {
				t.Fatalf("after re-creation the file holds %q", got)
			}
			must(t, r.Remove(ctx, id))
			must(t, r.RemoveWorkspace(ctx, spec.Workspace.Name))
		})
	}
}
