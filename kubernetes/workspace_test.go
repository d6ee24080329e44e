package kubernetes_test

import (
	"archive/tar"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/warder/warder"
	"github.com/warder/warder/kubernetes"
)

// wsSpec is a spec of the test image with a workspace claim of its own;
// the workload and then the claim are removed when the test ends.
func wsSpec(t *testing.T, r *kubernetes.Runtime, image string) warder.WorkloadSpec {
	t.Helper()
	id := uuid.NewString()
	spec := warder.WorkloadSpec{Name: warder.ContainerName(id), AgentID: id, Image: image, Port: 8000,
		Env:         map[string]string{"PORT": "8000"},
		Labels:      map[string]string{warder.LabelManaged: "warder_test", warder.LabelAgentID: id},
		MemoryBytes: 64 << 20, MilliCPUs: 250, Internal: true,
		Workspace: &warder.WorkspaceSpec{Name: warder.WorkspaceName(id), MountPath: warder.WorkspaceMountPath,
			Labels: map[string]string{warder.LabelWorkspace: "warder_test", warder.LabelAgentID: id}}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Remove(ctx, spec.Name); err != nil {
			t.Errorf("cleanup: remove %s: %v", spec.Name, err)
		}
		if err := r.RemoveWorkspace(ctx, spec.Workspace.Name); err != nil {
			t.Errorf("cleanup: remove workspace: %v", err)
		}
	})
	return spec
}

func execOut(ctx context.Context, r *kubernetes.Runtime, id string, spec warder.ExecSpec) (string, int, error) {
	var b strings.Builder
	code, err := r.Exec(ctx, id, spec, func(s string, p []byte) error {
		if s == warder.StreamStderr {
			b.WriteString("!")
		}
		b.Write(p)
		return nil
	})
	return b.String(), code, err
}

// TestWorkspaceHelpersAndExec: on a real cluster, the agent's user owns
// what the files API writes; a link the agent made is never followed;
// exec gets its env and, past its context, the process is killed; the
// helper Pod runs as the agent's user and is removed with the workspace.
func TestWorkspaceHelpersAndExec(t *testing.T) {
	r, c, image, ns := newRuntime(t)
	ctx := context.Background()
	spec := wsSpec(t, r, image)
	id, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteTar(ctx, id, "in", strings.NewReader(tarOne(t, "f.txt", "from the API"))); err != nil {
		t.Fatal(err)
	}
	out, code, err := execOut(ctx, r, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "ls", "/data/in"}})
	if err != nil || code != 0 || !strings.Contains(out, " 65534:65534 ") {
		t.Fatalf("the uploaded file is not the agent's: %q, exit %d, %v", out, code, err)
	}
	helper := spec.Workspace.Name + "-files"
	if user := c.Kubectl(t, "get", "pod", "-n", ns, helper, "-o", "jsonpath={.spec.securityContext.runAsUser}"); user != "65534" {
		t.Fatalf("the helper runs as %q", user)
	}

	// A link the agent makes to its container's root is not followed.
	if _, code, err := execOut(ctx, r, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "ln", "/", "/data/escape"}}); err != nil || code != 0 {
		t.Fatalf("ln: exit %d, %v", code, err)
	}
	for name, call := range map[string]func() error{
		"stat":  func() error { _, err := r.StatFile(ctx, id, "escape/warder-agent"); return err },
		"list":  func() error { _, err := r.ListDir(ctx, id, "escape", 10); return err },
		"read":  func() error { _, err := r.ReadTar(ctx, id, "escape/warder-agent"); return err },
		"write": func() error { return r.WriteTar(ctx, id, "escape/tmp", strings.NewReader(tarOne(t, "x", "y"))) },
		"rm":    func() error { return r.RemoveFile(ctx, id, "escape/warder-agent") },
	} {
		if err := call(); !errors.Is(err, warder.ErrInvalid) {
			t.Errorf("%s through a symlink: %v, want ErrInvalid", name, err)
		}
	}

	out, code, err = execOut(ctx, r, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "env"}, Env: map[string]string{"GREETING": "hi there"}})
	if err != nil || code != 0 || !strings.Contains(out, "GREETING=hi there\n") {
		t.Fatalf("exec env: %q, exit %d, %v", out, code, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, _, err := execOut(tctx, r, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "sleep", "300"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a timed-out exec: %v", err)
	}
	// The sleep is gone: the container's processes are the agent (1)
	// and this ls under its with-env (a subreaper, parent of what the
	// command starts).
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, err = execOut(ctx, r, id, warder.ExecSpec{Cmd: []string{"/warder-agent", "ls", "/proc"}})
		if err != nil {
			t.Fatal(err)
		}
		if pids := countPids(out); pids == 3 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after the timeout the container has %d processes:\n%s", pids, out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The workspace outlives the workload; its helpers go with it.
	if err := r.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveWorkspace(ctx, spec.Workspace.Name); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := c.Try("get", "pods,pvc", "-n", ns, "-o", "name")
		if err == nil && !strings.Contains(got, spec.Workspace.Name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper or the claim is still there: %s %v", got, err)
		}
	}
}

// tarOne is a tar of one regular file.
func tarOne(t *testing.T, name, body string) string {
	t.Helper()
	var b strings.Builder
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return b.String()
}

func countPids(ls string) int {
	n := 0
	for _, l := range strings.Split(ls, "\n") {
		f := strings.Fields(l)
		if len(f) == 5 && strings.Trim(f[4], "0123456789") == "" {
			n++
		}
	}
	return n
}
