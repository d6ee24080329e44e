package api_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/runtimetest"
	"github.com/warder/warder/internal/testkit/apitest"
)

// tarBytes is a tar of the given entries: "name" → body for files,
// "name/" for directories, "name -> target" for symlinks.
func tarBytes(t *testing.T, entries ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		name, body, _ := strings.Cut(e, "=")
		switch {
		case strings.Contains(name, " -> "):
			n, target, _ := strings.Cut(name, " -> ")
			tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777})
		case strings.HasSuffix(name, "/"):
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755})
		default:
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	return b.Bytes()
}

// listing is a directory's entry names.
func listing(t *testing.T, c *apitest.Client, agentID, dir string) []string {
	t.Helper()
	var l warder.DirListing
	c.MustDo("GET", "/api/agents/"+agentID+"/files/"+dir, nil, 200, &l)
	names := []string{}
	for _, e := range l.Entries {
		names = append(names, e.Name)
	}
	return names
}

// TestFilesRoundTrip: a file and a tar go in and come out (bytes, a
// listing, a tar) while the agent never ran, and stay after a start;
// DELETE removes a tree.
func TestFilesRoundTrip(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	alice := s.register(t, "alice")
	a := alice.CreateAgent("files")
	base := "/api/agents/" + a.ID + "/files/"
	var w warder.FileWritten
	alice.MustDo("PUT", base+"notes/hello.txt", "hello, agent", 200, &w)
	if w.Path != "notes/hello.txt" || w.Bytes != 12 || w.Files != 1 {
		t.Fatalf("written: %+v", w)
	}
	if code, body := alice.Do("GET", base+"notes/hello.txt", nil); code != 200 || string(body) != "hello, agent" {
		t.Fatalf("GET file = %d %q", code, body)
	}
	alice.MustDo("PUT", base+"docs?format=tar", tarBytes(t, "a.md=# A", "sub/", "sub/b.md=B"), 200, &w)
	if w.Files != 2 || w.Bytes != 4 {
		t.Fatalf("tar written: %+v", w)
	}
	if got := strings.Join(listing(t, alice, a.ID, "docs"), ","); got != "a.md,sub" {
		t.Fatalf("listing of docs: %s", got)
	}
	if got := strings.Join(listing(t, alice, a.ID, ""), ","); got != "docs,notes" {
		t.Fatalf("listing of the root: %s", got)
	}
	code, body := alice.Do("GET", base+"docs?format=tar", nil)
	if code != 200 {
		t.Fatalf("GET tar = %d %s", code, body)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(body))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "docs/,docs/a.md,docs/sub/,docs/sub/b.md" {
		t.Fatalf("tar of docs: %v", names)
	}
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	if code, body := alice.Do("GET", base+"docs/sub/b.md", nil); code != 200 || string(body) != "B" {
		t.Fatalf("after start = %d %q", code, body)
	}
	if code, raw := alice.Do("PUT", base+"docs", "a file over a directory"); code != 409 {
		t.Fatalf("a file over a directory = %d %s", code, raw)
	}
	if code, raw := alice.Do("DELETE", base, nil); code != 400 {
		t.Fatalf("DELETE of the root = %d %s", code, raw)
	}
	alice.MustDo("DELETE", base+"docs", nil, 200, nil)
	if code, _ := alice.Do("GET", base+"docs/a.md", nil); code != 404 {
		t.Fatalf("deleted file = %d", code)
	}
	if code, _ := alice.Do("GET", base+"docs?format=zip", nil); code != 400 {
		t.Fatalf("format=zip = %d", code)
	}
}

// TestFilesPathRules: no path leaves the workspace: ".." (encoded, so it
// reaches the handler), absolute paths, and tar entries that climb,
// are absolute or are links are refused with 400, and nothing of the
// upload is written.
func TestFilesPathRules(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	alice := s.register(t, "alice")
	a := alice.CreateAgent("paths")
	base := "/api/agents/" + a.ID + "/files/"
	for _, p := range []string{"%2e%2e/etc/passwd", "a/%2e%2e/%2e%2e/etc", "%2Fetc/passwd", "a%00b"} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			var body any
			if m == "PUT" {
				body = "x"
			}
			code, raw := alice.Do(m, base+p, body)
			if code != 400 || !strings.Contains(apitest.DetailOf(t, raw), "path") {
				t.Errorf("%s %s = %d %s", m, p, code, raw)
			}
		}
	}
	for name, tarball := range map[string][]byte{
		"climbing": tarBytes(t, "ok.txt=fine", "../escape.txt=bad"),
		"absolute": tarBytes(t, "ok.txt=fine", "/etc/cron.d/x=bad"),
		"symlink":  tarBytes(t, "ok.txt=fine", "link -> /etc"),
		"garbage":  []byte(strings.Repeat("not a tar ", 100)),
	} {
		code, raw := alice.Do("PUT", base+"up?format=tar", tarball)
		if code != 400 {
			t.Errorf("%s tar = %d %s", name, code, raw)
		}
	}
	if got := listing(t, alice, a.ID, ""); len(got) != 0 {
		t.Fatalf("refused uploads left %v", got)
	}
	if code, _ := alice.Do("PUT", base, "no name"); code != 400 {
		t.Fatalf("PUT of the root as a file = %d", code)
	}
}

// TestFilesBounds: an upload over WARDER_MAX_UPLOAD_BYTES is 413, one
// that would pass the agent's or the user's workspace bound is 409
// naming it; none leaves anything behind.
func TestFilesBounds(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, func(c *app.Config) {
		c.MaxUploadBytes, c.WorkspaceBytes, c.WorkspaceBytesPerUser = 1000, 1500, 2000
	})
	alice := s.register(t, "alice")
	a, b := alice.CreateAgent("one"), alice.CreateAgent("two")
	big := strings.Repeat("x", 1001)
	for _, req := range []struct{ path string }{{"big.bin"}, {"dir?format=tar"}} {
		body := any(big)
		if strings.Contains(req.path, "tar") {
			body = tarBytes(t, "big.bin="+big)
		}
		code, raw := alice.Do("PUT", "/api/agents/"+a.ID+"/files/"+req.path, body)
		if code != 413 || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_MAX_UPLOAD_BYTES") {
			t.Errorf("oversize %s = %d %s", req.path, code, raw)
		}
	}
	nine := strings.Repeat("y", 900)
	alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/one.bin", nine, 200, nil)
	code, raw := alice.Do("PUT", "/api/agents/"+a.ID+"/files/two.bin", nine)
	if code != 409 || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_MAX_WORKSPACE_BYTES") {
		t.Fatalf("past the agent's bound = %d %s", code, raw)
	}
	alice.MustDo("PUT", "/api/agents/"+b.ID+"/files/one.bin", nine, 200, nil)
	code, raw = alice.Do("PUT", "/api/agents/"+b.ID+"/files/d?format=tar", tarBytes(t, "x.bin="+strings.Repeat("z", 300)))
	if code != 409 || !strings.Contains(apitest.DetailOf(t, raw), "WARDER_MAX_WORKSPACE_BYTES_PER_USER") {
		t.Fatalf("past the user's bound = %d %s", code, raw)
	}
	if got := strings.Join(listing(t, alice, a.ID, ""), ","); got != "one.bin" {
		t.Fatalf("agent one holds %s", got)
	}
	if got := strings.Join(listing(t, alice, b.ID, ""), ","); got != "one.bin" {
		t.Fatalf("agent two holds %s", got)
	}
	// Another user has room of their own.
	bob := s.register(t, "bob")
	c := bob.CreateAgent("three")
	bob.MustDo("PUT", "/api/agents/"+c.ID+"/files/one.bin", nine, 200, nil)
}

// TestFilesOwnership: another user's agent's files, exec and workspaces
// are 404, as if they did not exist; read-only keys read but neither
// write nor run.
func TestFilesOwnership(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	alice, bob := s.register(t, "alice"), s.register(t, "bob")
	a := alice.CreateAgent("private")
	alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/secret.txt", "mine", 200, nil)
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	base := "/api/agents/" + a.ID + "/files/secret.txt"
	for _, req := range []struct {
		m, p string
		body any
	}{{"GET", base, nil}, {"PUT", base, "theirs"}, {"DELETE", base, nil}, {"GET", "/api/agents/" + a.ID + "/files/", nil},
		{"POST", "/api/agents/" + a.ID + "/exec", map[string]any{"cmd": []string{"echo", "hi"}}},
		{"DELETE", "/api/workspaces/" + warder.WorkspaceName(a.ID), nil}} {
		if code, raw := bob.Do(req.m, req.p, req.body); code != 404 {
			t.Errorf("bob %s %s = %d %s", req.m, req.p, code, raw)
		}
	}
	var list warder.WorkspacesResponse
	bob.MustDo("GET", "/api/workspaces", nil, 200, &list)
	if len(list.Workspaces) != 0 {
		t.Fatalf("bob sees workspaces: %+v", list.Workspaces)
	}
	ro, _ := alice.NewKey(map[string]any{"name": "ro", "read_only": true})
	fresh := alice.CreateAgent("fresh")
	if code, raw := ro.Do("GET", "/api/agents/"+fresh.ID+"/files/", nil); code != 409 {
		t.Fatalf("a read-only key on an agent with no container = %d %s", code, raw)
	}
	if code, body := ro.Do("GET", base, nil); code != 200 || string(body) != "mine" {
		t.Fatalf("read-only GET = %d %s", code, body)
	}
	for _, req := range []struct {
		m, p string
		body any
	}{{"PUT", base, "x"}, {"DELETE", base, nil}, {"POST", "/api/agents/" + a.ID + "/exec", map[string]any{"cmd": []string{"echo"}}}} {
		if code, raw := ro.Do(req.m, req.p, req.body); code != 403 {
			t.Errorf("read-only %s %s = %d %s", req.m, req.p, code, raw)
		}
	}
}

// TestKeepWorkspace: deleting an agent deletes its workspace unless
// keep_workspace=true; a kept one is listed for its owner, with its size,
// and deleted by name; an attached one cannot be deleted so.
func TestKeepWorkspace(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	alice := s.register(t, "alice")
	kept, gone := alice.CreateAgent("kept"), alice.CreateAgent("gone")
	for _, a := range []apitest.Agent{kept, gone} {
		alice.MustDo("PUT", "/api/agents/"+a.ID+"/files/f.txt", "12345", 200, nil)
	}
	code, raw := alice.Do("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil)
	if code != 409 {
		t.Fatalf("deleting an attached workspace = %d %s", code, raw)
	}
	if code, _ := alice.Do("DELETE", "/api/agents/"+kept.ID+"?keep_workspace=maybe", nil); code != 400 {
		t.Fatalf("keep_workspace=maybe = %d", code)
	}
	alice.MustDo("DELETE", "/api/agents/"+kept.ID+"?keep_workspace=true", nil, 200, nil)
	alice.MustDo("DELETE", "/api/agents/"+gone.ID, nil, 200, nil)
	var list warder.WorkspacesResponse
	alice.MustDo("GET", "/api/workspaces", nil, 200, &list)
	if len(list.Workspaces) != 1 || list.Workspaces[0].Name != warder.WorkspaceName(kept.ID) || list.Workspaces[0].Attached || list.Workspaces[0].SizeBytes != 5 {
		t.Fatalf("workspaces: %s", mustJSON(list))
	}
	alice.MustDo("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil, 200, nil)
	alice.MustDo("GET", "/api/workspaces", nil, 200, &list)
	if len(list.Workspaces) != 0 {
		t.Fatalf("after delete: %s", mustJSON(list))
	}
	if code, _ := alice.Do("DELETE", "/api/workspaces/"+warder.WorkspaceName(kept.ID), nil); code != 404 {
		t.Fatalf("deleting it twice = %d", code)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestWorkspacesNotSupported: on a runtime without workspaces and exec,
// every route of theirs says so with 501 and a detail.
func TestWorkspacesNotSupported(t *testing.T) {
	t.Parallel()
	cfg := apitest.Config(t)
	cfg.Network, cfg.PortStart, cfg.PortEnd = "fake-net", 20300, 20799
	srv := apitest.Start(t, cfg, func(cfg app.Config, ports warder.PortStore, _ *slog.Logger) (app.Backend, error) {
		return fakeBackend{runtimetest.NewFake(ports, cfg.PortStart, cfg.PortEnd).WithoutWorkspaces()}, nil
	}, nil)
	alice := apitest.Register(t, srv.URL, "alice")
	a := alice.CreateAgent("plain")
	alice.MustDo("POST", "/api/agents/"+a.ID+"/start", nil, 200, nil)
	for _, req := range []struct {
		m, p string
		body any
	}{{"GET", "/api/agents/" + a.ID + "/files/x", nil}, {"PUT", "/api/agents/" + a.ID + "/files/x", "y"},
		{"POST", "/api/agents/" + a.ID + "/exec", map[string]any{"cmd": []string{"echo"}}}, {"GET", "/api/workspaces", nil}} {
		code, raw := alice.Do(req.m, req.p, req.body)
		if code != 501 || !strings.Contains(apitest.DetailOf(t, raw), "fake") {
			t.Errorf("%s %s = %d %s", req.m, req.p, code, raw)
		}
	}
	alice.MustDo("DELETE", "/api/agents/"+a.ID, nil, 200, nil)
}

// drain reads an exec stream's events to its end.
func drain(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	for _, block := range strings.Split(readAll(t, r), "\n\n") {
		var name, data string
		for _, l := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(l, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(l, "data: "); ok {
				data = v
			}
		}
		if data != "" {
			out = append(out, name+" "+data)
		}
	}
	return out
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
