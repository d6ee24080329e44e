package client_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/client"
	"github.com/warder/warder/wire"
)

// TestClientFiles: the workspace's files, exec and kept workspaces
// through the client, every answer checked against the OpenAPI document.
func TestClientFiles(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, nil)
	alice, _ := mustSignIn(t, s, "alice")
	a := try(alice.CreateAgent(ctx, wire.AgentCreate{Name: "files"})).must(t)

	w := try(alice.WriteFile(ctx, a.ID, "dir/a b.txt", strings.NewReader("spaced"))).must(t)
	if w.Path != "dir/a b.txt" || w.Bytes != 6 {
		t.Fatalf("written: %+v", w)
	}
	rc := try(alice.ReadFile(ctx, a.ID, "dir/a b.txt")).must(t)
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "spaced" {
		t.Fatalf("read %q", body)
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "x/y.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("y"))
	tw.Close()
	try(alice.WriteTar(ctx, a.ID, "dir", &tb)).must(t)
	l := try(alice.ListDir(ctx, a.ID, "dir")).must(t)
	if len(l.Entries) != 2 || l.Entries[0].Name != "a b.txt" || l.Entries[1].Name != "x" {
		t.Fatalf("listing: %+v", l.Entries)
	}
	rc = try(alice.ReadTar(ctx, a.ID, "dir/x")).must(t)
	tr := tar.NewReader(rc)
	var names []string
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	rc.Close()
	if strings.Join(names, ",") != "x/,x/y.txt" {
		t.Fatalf("tar: %v", names)
	}
	if err := alice.RemoveFile(ctx, a.ID, "dir/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ReadFile(ctx, a.ID, "dir/x/y.txt"); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("a removed file: %v", err)
	}

	if _, err := alice.Exec(ctx, a.ID, wire.ExecRequest{Cmd: []string{"echo"}}, nil); client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("exec in a stopped agent: %v", err)
	}
	try(alice.StartAgent(ctx, a.ID)).must(t)
	var out []string
	res := try(alice.Exec(ctx, a.ID, wire.ExecRequest{Cmd: []string{"/warder-agent", "echo", "hi"}}, func(stream, data string) error {
		out = append(out, stream+":"+data)
		return nil
	})).must(t)
	if res.ExitCode != 0 || strings.Join(out, "") != "stdout:hi\n" {
		t.Fatalf("exec: %+v %q", res, out)
	}
	res = try(alice.Exec(ctx, a.ID, wire.ExecRequest{Cmd: []string{"sleep", "30"}, Timeout: "100ms"}, func(string, string) error { return nil })).must(t)
	if !res.TimedOut {
		t.Fatalf("a timed-out exec: %+v", res)
	}

	if err := alice.DeleteAgentWith(ctx, a.ID, client.DeleteOptions{KeepWorkspace: true}); err != nil {
		t.Fatal(err)
	}
	ws := try(alice.Workspaces(ctx)).must(t)
	if len(ws) != 1 || ws[0].Name != warder.WorkspaceName(a.ID) || ws[0].Attached || ws[0].SizeBytes != 6 {
		t.Fatalf("workspaces: %+v", ws)
	}
	if err := alice.DeleteWorkspace(ctx, ws[0].Name); err != nil {
		t.Fatal(err)
	}
	if ws := try(alice.Workspaces(ctx)).must(t); len(ws) != 0 {
		t.Fatalf("after delete: %+v", ws)
	}
}
