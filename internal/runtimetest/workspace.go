package runtimetest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
)

// withWorkspace gives spec a workspace of its own; the test removes the
// workload and then the workspace when it ends.
func withWorkspace(t *testing.T, h Harness, spec *warder.WorkloadSpec, ids *[]string) {
	t.Helper()
	name := "wws-conformance-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	spec.Workspace = &warder.WorkspaceSpec{Name: name, MountPath: warder.WorkspaceMountPath,
		Labels: map[string]string{warder.LabelWorkspace: spec.Labels[warder.LabelManaged], warder.LabelAgentID: spec.AgentID}}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, id := range *ids {
			if err := h.Runtime.Remove(ctx, id); err != nil {
				t.Errorf("cleanup: remove %s: %v", id, err)
			}
		}
		if err := h.Runtime.Parts().Workspaces.RemoveWorkspace(ctx, name); err != nil {
			t.Errorf("cleanup: remove workspace %s: %v", name, err)
		}
	})
}

func tarOf(files map[string]string) io.Reader {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	return &b
}

// testWorkspace: files written into a workload that never ran survive
// its removal and re-creation; stat, list, read, remove and usage act as
// the contract says; a workspace in use is not removed.
func testWorkspace(t *testing.T, h Harness) {
	ctx := context.Background()
	wr, fr := h.Runtime.Parts().Workspaces, h.Runtime.Parts().Files
	var ids []string
	spec := h.Spec(t)
	withWorkspace(t, h, &spec, &ids)
	id, err := h.Runtime.Create(ctx, spec)
	must(t, err)
	ids = append(ids, id)
	must(t, fr.WriteTar(ctx, id, "a/b", tarOf(map[string]string{"one.txt": "12345", "two.txt": "678"})))
	st, err := fr.StatFile(ctx, id, "a/b/one.txt")
	must(t, err)
	if st.Type != warder.FileTypeFile || st.Size != 5 || st.Name != "one.txt" {
		t.Fatalf("stat: %+v", st)
	}
	if _, err := fr.StatFile(ctx, id, "a/none"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("stat of nothing: %v", err)
	}
	list, err := fr.ListDir(ctx, id, "a/b", 100)
	must(t, err)
	if len(list) != 2 || list[0].Name+list[1].Name != "one.txttwo.txt" && list[0].Name+list[1].Name != "two.txtone.txt" {
		t.Fatalf("listing: %+v", list)
	}
	must(t, h.Runtime.Remove(ctx, id))
	if id, err = h.Runtime.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, id)
	rc, err := fr.ReadTar(ctx, id, "a/b/one.txt")
	must(t, err)
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	must(t, err)
	body, _ := io.ReadAll(tr)
	rc.Close()
	if hdr.Name != "one.txt" || string(body) != "12345" {
		t.Fatalf("after re-creation: %q holds %q", hdr.Name, body)
	}
	n, err := wr.WorkspaceUsage(ctx, spec.Workspace.Name)
	must(t, err)
	if n != 8 {
		t.Fatalf("usage %d, want 8", n)
	}
	found := false
	all, err := wr.Workspaces(ctx)
	must(t, err)
	for _, w := range all {
		found = found || w.Name == spec.Workspace.Name && w.AgentID == spec.AgentID
	}
	if !found {
		t.Fatalf("workspace %s not listed: %+v", spec.Workspace.Name, all)
	}
	must(t, fr.RemoveFile(ctx, id, "a"))
	if _, err := fr.StatFile(ctx, id, "a/b"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("a removed tree is there: %v", err)
	}
	must(t, fr.RemoveFile(ctx, id, "a")) // absent is success
	if err := wr.RemoveWorkspace(ctx, spec.Workspace.Name); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("removing a workspace in use: %v", err)
	}
	if _, err := wr.WorkspaceUsage(ctx, "wws-conformance-none"); !errors.Is(err, warder.ErrNotFound) {
		t.Fatalf("usage of no workspace: %v", err)
	}
}

// testExec: output in order with stdout and stderr told apart, the exit
// code, stdin, a context that ends, and a workload that does not run.
func testExec(t *testing.T, h Harness) {
	ctx := context.Background()
	er := h.Runtime.Parts().Exec
	spec := h.Spec(t)
	id, err := h.Runtime.Create(ctx, spec)
	must(t, err)
	run := func(ctx context.Context, spec warder.ExecSpec) (string, int, error) {
		var b strings.Builder
		code, err := er.Exec(ctx, id, spec, func(s string, p []byte) error {
			b.WriteString(s + ":" + string(p))
			return nil
		})
		return b.String(), code, err
	}
	if _, _, err := run(ctx, warder.ExecSpec{Cmd: []string{"/warder-agent", "echo", "x"}}); !errors.Is(err, warder.ErrConflict) {
		t.Fatalf("exec in a workload that never ran: %v", err)
	}
	_, err = h.Runtime.Start(ctx, id)
	must(t, err)
	waitState(t, h, id, warder.WorkloadState.Running)
	out, code, err := run(ctx, warder.ExecSpec{Cmd: []string{"/warder-agent", "echo", "hello", "there"}})
	if err != nil || code != 0 || out != "stdout:hello there\n" {
		t.Fatalf("echo: %q, exit %d, %v", out, code, err)
	}
	out, code, err = run(ctx, warder.ExecSpec{Cmd: []string{"/warder-agent", "cat"}, Stdin: strings.NewReader("from stdin")})
	if err != nil || code != 0 || out != "stdout:from stdin" {
		t.Fatalf("cat of stdin: %q, exit %d, %v", out, code, err)
	}
	out, code, err = run(ctx, warder.ExecSpec{Cmd: []string{"/warder-agent", "no-such-command"}})
	if err != nil || code == 0 || !strings.HasPrefix(out, "stderr:") {
		t.Fatalf("a failing command: %q, exit %d, %v", out, code, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := run(tctx, warder.ExecSpec{Cmd: []string{"/warder-agent", "sleep", "120"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a command past its context: %v", err)
	}
	if d := time.Since(start); d > h.Within {
		t.Fatalf("a command past its context returned after %s", d)
	}
}
