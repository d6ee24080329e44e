package runtimetest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/warder/warder"
)

// The fake's workspaces live in memory, by name, and outlive workloads
// as volumes do. Its exec knows a few commands (the default image's
// built-ins, with or without /warder-agent before them): echo ARGS,
// stderr ARGS, cat FILE (in the workspace), sleep SECONDS, exit CODE;
// anything else exits 127.

var (
	_ warder.WorkspaceRuntime = (*Fake)(nil)
	_ warder.FileRuntime      = (*Fake)(nil)
	_ warder.ExecRuntime      = (*Fake)(nil)
)

type fakeVolume struct {
	labels  map[string]string
	created time.Time
	files   map[string]*fakeFile // by path below the root; dirs too
}

type fakeFile struct {
	dir  bool
	data []byte
	mod  time.Time
}

// volumeOf runs under mu: the workload's workspace, made on first use.
func (f *Fake) volumeOf(id string) (*fakeVolume, error) {
	w, err := f.get(id)
	if err != nil {
		return nil, err
	}
	ws := w.spec.Workspace
	if ws == nil {
		return nil, warder.Errorf(warder.ErrConflict, "the agent's container has no workspace")
	}
	return f.volume(ws), nil
}

// volume runs under mu.
func (f *Fake) volume(ws *warder.WorkspaceSpec) *fakeVolume {
	if f.volumes == nil {
		f.volumes = map[string]*fakeVolume{}
	}
	v := f.volumes[ws.Name]
	if v == nil {
		v = &fakeVolume{labels: ws.Labels, created: time.Now(), files: map[string]*fakeFile{}}
		f.volumes[ws.Name] = v
	}
	return v
}

// Workspaces lists the workspaces made so far.
func (f *Fake) Workspaces(context.Context) ([]*warder.Workspace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return nil, err
	}
	out := []*warder.Workspace{}
	for name, v := range f.volumes {
		out = append(out, &warder.Workspace{Name: name, AgentID: v.labels[warder.LabelAgentID], UserID: v.labels[warder.LabelUserID], CreatedAt: v.created, SizeBytes: -1})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// WorkspaceUsage sums the workspace's file sizes.
func (f *Fake) WorkspaceUsage(_ context.Context, name string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	v := f.volumes[name]
	if v == nil {
		return 0, warder.Errorf(warder.ErrNotFound, "no workspace %s", name)
	}
	var n int64
	for _, file := range v.files {
		n += int64(len(file.data))
	}
	return n, nil
}

// RemoveWorkspace deletes a workspace no workload mounts.
func (f *Fake) RemoveWorkspace(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	for _, w := range f.byID {
		if w.spec.Workspace != nil && w.spec.Workspace.Name == name {
			return warder.Errorf(warder.ErrConflict, "workspace %s is still in use by a container", name)
		}
	}
	delete(f.volumes, name)
	return nil
}

func fakeInfo(rel string, file *fakeFile) warder.FileInfo {
	fi := warder.FileInfo{Name: path.Base(rel), Path: rel, Type: warder.FileTypeFile, Size: int64(len(file.data)), Mode: fs.FileMode(0o644).String(), ModTime: file.mod}
	if rel == "" {
		fi.Name = ""
	}
	if file.dir {
		fi.Type, fi.Size, fi.Mode = warder.FileTypeDir, 0, (fs.ModeDir | 0o755).String()
	}
	return fi
}

// lookup runs under mu; "" is the root.
func (v *fakeVolume) lookup(rel string) (*fakeFile, error) {
	if rel == "" {
		return &fakeFile{dir: true}, nil
	}
	file := v.files[rel]
	if file == nil {
		return nil, warder.Errorf(warder.ErrNotFound, "%s does not exist in the workspace", rel)
	}
	return file, nil
}

// StatFile describes rel.
func (f *Fake) StatFile(_ context.Context, id, rel string) (warder.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.volumeOf(id)
	if err != nil {
		return warder.FileInfo{}, err
	}
	file, err := v.lookup(rel)
	if err != nil {
		return warder.FileInfo{}, err
	}
	return fakeInfo(rel, file), nil
}

// ListDir lists a directory's direct entries by name.
func (f *Fake) ListDir(_ context.Context, id, rel string, limit int) ([]*warder.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.volumeOf(id)
	if err != nil {
		return nil, err
	}
	dir, err := v.lookup(rel)
	if err != nil {
		return nil, err
	}
	if !dir.dir {
		return nil, warder.Errorf(warder.ErrInvalid, "%s is not a directory", rel)
	}
	out := []*warder.FileInfo{}
	for p, file := range v.files {
		if path.Dir("/" + p)[1:] == rel && len(out) < limit {
			fi := fakeInfo(p, file)
			out = append(out, &fi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ReadTar archives rel and what is under it, named from rel's parent.
func (f *Fake) ReadTar(_ context.Context, id, rel string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.volumeOf(id)
	if err != nil {
		return nil, err
	}
	if _, err := v.lookup(rel); err != nil {
		return nil, err
	}
	var paths []string
	for p := range v.files {
		if rel == "" || p == rel || strings.HasPrefix(p, rel+"/") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	parent := path.Dir("/" + rel)[1:]
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, p := range paths {
		file := v.files[p]
		name := strings.TrimPrefix(strings.TrimPrefix(p, parent), "/")
		if file.dir {
			tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: file.mod})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(file.data)), ModTime: file.mod})
		tw.Write(file.data)
	}
	tw.Close()
	return io.NopCloser(&b), nil
}

// WriteTar extracts tr into dir, making the directories on the way. It
// reads the whole tar before it takes the lock, as an engine would
// stream it, and applies it entry by entry.
func (f *Fake) WriteTar(_ context.Context, id, dir string, src io.Reader) error {
	type entry struct {
		name string
		file *fakeFile
	}
	var entries []entry
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + path.Join(dir, h.Name))[1:]
		switch h.Typeflag {
		case tar.TypeDir:
			entries = append(entries, entry{name, &fakeFile{dir: true, mod: time.Now()}})
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			entries = append(entries, entry{name, &fakeFile{data: data, mod: time.Now()}})
		default:
			return warder.Errorf(warder.ErrInvalid, "the fake runtime takes only files and directories")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.volumeOf(id)
	if err != nil {
		return err
	}
	for _, e := range entries {
		for p := path.Dir("/" + e.name)[1:]; p != ""; p = path.Dir("/" + p)[1:] {
			if old := v.files[p]; old != nil && !old.dir {
				return warder.Errorf(warder.ErrConflict, "%s exists and is not a directory", p)
			}
			if v.files[p] == nil {
				v.files[p] = &fakeFile{dir: true, mod: time.Now()}
			}
		}
		if e.name != "" {
			v.files[e.name] = e.file
		}
	}
	return nil
}

// RemoveFile deletes rel and what is under it.
func (f *Fake) RemoveFile(_ context.Context, id, rel string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.volumeOf(id)
	if err != nil {
		return err
	}
	for p := range v.files {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			delete(v.files, p)
		}
	}
	return nil
}

// Exec runs one of the fake's commands in a running workload.
func (f *Fake) Exec(ctx context.Context, id string, spec warder.ExecSpec, out func(string, []byte) error) (int, error) {
	f.mu.Lock()
	w, err := f.get(id)
	running := err == nil && w.state.Running()
	var v *fakeVolume
	if err == nil && w.spec.Workspace != nil {
		v = f.volume(w.spec.Workspace)
	}
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if !running {
		return 0, warder.Errorf(warder.ErrConflict, "the agent is not running: start it first")
	}
	cmd := spec.Cmd
	if len(cmd) > 0 && cmd[0] == "/warder-agent" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return 2, out(warder.StreamStderr, []byte("usage\n"))
	}
	args := cmd[1:]
	switch cmd[0] {
	case "echo":
		return 0, out(warder.StreamStdout, []byte(strings.Join(args, " ")+"\n"))
	case "stderr":
		return 0, out(warder.StreamStderr, []byte(strings.Join(args, " ")+"\n"))
	case "cat":
		if len(args) == 0 && spec.Stdin != nil {
			data, _ := io.ReadAll(spec.Stdin)
			return 0, out(warder.StreamStdout, data)
		}
		f.mu.Lock()
		var file *fakeFile
		if v != nil && len(args) == 1 {
			file = v.files[strings.TrimPrefix(path.Clean(args[0]), warder.WorkspaceMountPath+"/")]
		}
		f.mu.Unlock()
		if file == nil || file.dir {
			return 1, out(warder.StreamStderr, []byte("cat: no such file\n"))
		}
		return 0, out(warder.StreamStdout, file.data)
	case "sleep":
		secs, _ := strconv.ParseFloat(strings.Join(args, ""), 64)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Duration(secs * float64(time.Second))):
			return 0, nil
		}
	case "exit":
		code, _ := strconv.Atoi(strings.Join(args, ""))
		return code, nil
	}
	return 127, out(warder.StreamStderr, []byte(cmd[0]+": not found\n"))
}
