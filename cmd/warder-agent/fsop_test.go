package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warder/warder/internal/fsat"
	"github.com/warder/warder/internal/fsop"
)

func runFsop(t *testing.T, in io.Reader, args ...string) (string, string, int) {
	t.Helper()
	if in == nil {
		in = strings.NewReader("")
	}
	var out, errw bytes.Buffer
	code := builtinFsop(args, in, &out, &errw)
	return out.String(), errw.String(), code
}

func tarFiles(t *testing.T, entries ...tar.Header) io.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Size, h.Linkname = int64(len(body)), ""
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	return &b
}

// TestFsopRoundTrip: a tar extracted into a directory that does not
// exist yet is there to stat, list and read back as a tar, and rm
// removes the tree.
func TestFsopRoundTrip(t *testing.T) {
	root := t.TempDir()
	// Linkname carries a regular file's body in tarFiles.
	in := tarFiles(t, tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "d/a.txt", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "hello"})
	if _, e, code := runFsop(t, in, "untar", root, "x/y"); code != 0 {
		t.Fatalf("untar: %d %s", code, e)
	}
	out, _, code := runFsop(t, nil, "stat", root, "x/y/d/a.txt")
	var st fsEntry
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Size != 5 || st.Name != "a.txt" || !st.Mode.IsRegular() {
		t.Fatalf("stat: %d %q", code, out)
	}
	out, _, code = runFsop(t, nil, "list", root, "x/y", "10")
	var list []fsEntry
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Name != "d" || !list[0].Mode.IsDir() {
		t.Fatalf("list: %d %q", code, out)
	}
	out, _, code = runFsop(t, nil, "tar", root, "x/y/d")
	tr := tar.NewReader(strings.NewReader(out))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Name == "d/a.txt" {
			if b, _ := io.ReadAll(tr); string(b) != "hello" {
				t.Fatalf("tar holds %q", b)
			}
		}
	}
	if code != 0 || strings.Join(names, ",") != "d/,d/a.txt" {
		t.Fatalf("tar: %d %v", code, names)
	}
	if _, _, code := runFsop(t, nil, "list", root, "x/y/d/a.txt"); code != fsNotDir {
		t.Fatalf("list of a file: %d", code)
	}
	if _, _, code := runFsop(t, nil, "rm", root, "x"); code != 0 {
		t.Fatalf("rm: %d", code)
	}
	if _, _, code := runFsop(t, nil, "stat", root, "x"); code != fsNotFound {
		t.Fatalf("stat after rm: %d", code)
	}
	if _, _, code := runFsop(t, nil, "rm", root, "x"); code != 0 {
		t.Fatalf("rm of nothing: %d", code)
	}
}

// TestFsopRefusesLinksAndEscapes: nothing goes through a symlink, and a
// tar cannot name a place outside the directory or make a link.
func TestFsopRefusesLinksAndEscapes(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"stat", root, "escape/secret"}, {"list", root, "escape"}, {"tar", root, "escape/secret"},
		{"rm", root, "escape/secret"}, {"untar", root, "escape/new"}, {"stat", root, "../x"},
	} {
		if _, _, code := runFsop(t, tarFiles(t), args...); code != fsInvalid {
			t.Errorf("%v: exit %d, want %d", args, code, fsInvalid)
		}
	}
	for _, h := range []tar.Header{
		{Name: "../up.txt", Typeflag: tar.TypeReg, Linkname: "x"},
		{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"},
		{Name: "escape/in.txt", Typeflag: tar.TypeReg, Linkname: "x"},
	} {
		if _, _, code := runFsop(t, tarFiles(t, h), "untar", root, ""); code != fsInvalid {
			t.Errorf("untar of %q: exit %d, want %d", h.Name, code, fsInvalid)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "in.txt")); err == nil {
		t.Fatal("a file was written through the link")
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Fatal("rm went through the link")
	}
}

// TestWithEnvUsage: with-env refuses a command line it cannot run.
func TestWithEnvUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"m"}, {"m", "--"}, {"m", "NOEQUALS", "--", "/x"}} {
		var errw bytes.Buffer
		if code := builtinWithEnv(args, nil, io.Discard, &errw); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// TestFsopCodes: the exit codes are the ones the runtimes read.
func TestFsopCodes(t *testing.T) {
	for _, c := range [][2]int{{fsNotFound, fsop.NotFound}, {fsInvalid, fsop.Invalid}, {fsNotDir, fsop.NotDir},
		{fsConflict, fsop.Conflict}, {fsFull, fsop.Full}} {
		if c[0] != c[1] {
			t.Errorf("fsop code %d here is %d in internal/fsop", c[0], c[1])
		}
	}
}

// TestFsopLinksBelowTheTop: a link one or more levels down, to a
// directory outside, is followed by no operation, and an upload's entry
// through it writes nothing outside.
func TestFsopLinksBelowTheTop(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "docs", "d"), 0o755)
	os.Symlink(outside, filepath.Join(root, "docs", "l"))
	os.Symlink(outside, filepath.Join(root, "docs", "d", "r"))
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	for _, p := range []string{"docs/l", "docs/d/r"} {
		for _, args := range [][]string{{"stat", root, p + "/secret"}, {"list", root, p}, {"tar", root, p + "/secret"},
			{"rm", root, p + "/secret"}, {"untar", root, p + "/new"}} {
			if _, _, code := runFsop(t, tarFiles(t), args...); code != fsInvalid {
				t.Errorf("%v: exit %d, want %d", args, code, fsInvalid)
			}
		}
		in := tarFiles(t, tar.Header{Name: p + "/x", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "owned"})
		if _, _, code := runFsop(t, in, "untar", root, ""); code != fsInvalid {
			t.Errorf("untar of %s/x: exit %d", p, code)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("a file was written through a link below the top")
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Fatal("rm went through a link")
	}
	// A tar of the tree archives the links as links.
	out, _, code := runFsop(t, nil, "tar", root, "docs")
	tr := tar.NewReader(strings.NewReader(out))
	links := 0
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		if h.Typeflag == tar.TypeSymlink {
			links++
		}
		if strings.Contains(h.Name, "secret") {
			t.Fatalf("the tar went through a link: %s", h.Name)
		}
	}
	if code != 0 || links != 2 {
		t.Fatalf("tar of docs: exit %d, %d links", code, links)
	}
}

// TestFsopUntarRollsBack: a tar that breaks half-way leaves none of the
// new top-level names, keeps what was there, and a new target directory
// goes too.
func TestFsopUntarRollsBack(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "kept"), []byte("k"), 0o644)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range []string{"a/x", "b/c/y", "kept2"} {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
		tw.Write([]byte("z"))
	}
	tw.Flush()
	b.WriteString("this is no tar header")
	if _, _, code := runFsop(t, bytes.NewReader(b.Bytes()), "untar", root, ""); code == 0 {
		t.Fatal("a broken tar was extracted")
	}
	names, _ := os.ReadDir(root)
	if len(names) != 1 || names[0].Name() != "kept" {
		t.Fatalf("after the rollback: %v", names)
	}
	if _, _, code := runFsop(t, bytes.NewReader(b.Bytes()), "untar", root, "new/deep"); code == 0 {
		t.Fatal("a broken tar was extracted")
	}
	if _, err := os.Stat(filepath.Join(root, "new")); err == nil {
		t.Fatal("the new target directory was left")
	}
}

// TestFsopFailedOverwriteKeepsOldFiles: an upload that fails leaves the
// files it would have replaced as they were, in existing directories
// too, and no staged file behind.
func TestFsopFailedOverwriteKeepsOldFiles(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "old"), 0o755)
	os.WriteFile(filepath.Join(root, "doc"), []byte("old doc"), 0o644)
	os.WriteFile(filepath.Join(root, "old", "f"), []byte("old f"), 0o644)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range []string{"doc", "old/f", "old/new/g"} {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
		tw.Write([]byte("new"))
	}
	tw.Flush()
	b.WriteString("this is no tar header")
	if _, _, code := runFsop(t, bytes.NewReader(b.Bytes()), "untar", root, ""); code == 0 {
		t.Fatal("a broken tar was extracted")
	}
	for p, want := range map[string]string{"doc": "old doc", "old/f": "old f"} {
		if got, _ := os.ReadFile(filepath.Join(root, p)); string(got) != want {
			t.Errorf("%s holds %q after the failed upload", p, got)
		}
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && (strings.HasPrefix(fi.Name(), ".warder-upload-") || fi.Name() == "new") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
	// The same upload whole replaces them.
	var ok bytes.Buffer
	tw = tar.NewWriter(&ok)
	tw.WriteHeader(&tar.Header{Name: "doc", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("new"))
	tw.Close()
	if _, e, code := runFsop(t, &ok, "untar", root, ""); code != 0 {
		t.Fatalf("untar: %d %s", code, e)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "doc")); string(got) != "new" {
		t.Fatalf("doc holds %q", got)
	}
}

// TestFsopDepth: an upload nested deeper than fsat.MaxUploadDepth is refused,
// and a tree deeper than that (made by the agent) can still be deleted.
func TestFsopDepth(t *testing.T) {
	root := t.TempDir()
	deep := strings.Repeat("d/", fsat.MaxUploadDepth) + "f"
	in := tarFiles(t, tar.Header{Name: deep, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"})
	if _, _, code := runFsop(t, in, "untar", root, ""); code != fsInvalid {
		t.Fatalf("untar of %d levels: exit %d", fsat.MaxUploadDepth+1, code)
	}
	p := filepath.Join(root, "tree")
	for range 300 {
		p = filepath.Join(p, "d")
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, e, code := runFsop(t, nil, "rm", root, "tree"); code != 0 {
		t.Fatalf("rm of a 300-level tree: %d %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(root, "tree")); err == nil {
		t.Fatal("the tree is still there")
	}
}
