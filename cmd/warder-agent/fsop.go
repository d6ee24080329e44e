package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// fsop is the workspace's file operations for a runtime that has no
// archive API of its own (Kubernetes): Warder runs it by exec in a helper
// pod that mounts the workspace, as the agent's user. Every path is ROOT
// and a relative path below it, walked element by element with Lstat: a
// symlink anywhere on the way is refused, so nothing outside ROOT is
// read or written however the agent arranged its files.
//
//	fsop stat ROOT REL        one JSON fsEntry
//	fsop list ROOT REL LIMIT  a JSON array of the directory's entries
//	fsop tar ROOT REL         REL (a file or a tree) as a tar on stdout,
//	                          names relative to REL's parent; links are
//	                          written as links, never followed
//	fsop untar ROOT DIR       the tar on stdin extracted into DIR (made
//	                          if missing); links and escaping names refused
//	fsop rm ROOT REL          REL and everything under it; absent is fine
//
// Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 a symlink or an
// escaping name, 5 not a directory where one is needed.
const (
	fsNotFound = 3
	fsInvalid  = 4
	fsNotDir   = 5
)

// fsEntry is one file as fsop reports it.
type fsEntry struct {
	Name  string      `json:"name"`
	Mode  fs.FileMode `json:"mode"`
	Size  int64       `json:"size"`
	MTime int64       `json:"mtime_ns"`
}

func entryOf(fi fs.FileInfo) fsEntry {
	return fsEntry{Name: fi.Name(), Mode: fi.Mode(), Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
}

// fsError carries an exit code with its message.
type fsError struct {
	code int
	msg  string
}

func (e *fsError) Error() string { return e.msg }

func builtinFsop(args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) < 3 {
		fmt.Fprintln(errw, "usage: fsop stat|list|tar|untar|rm ROOT REL [LIMIT]")
		return 2
	}
	op, root, rel := args[0], args[1], args[2]
	var err error
	switch op {
	case "stat":
		var fi fs.FileInfo
		if fi, err = walkNoLinks(root, rel); err == nil {
			err = json.NewEncoder(out).Encode(entryOf(fi))
		}
	case "list":
		limit := 1000
		if len(args) > 3 {
			limit, _ = strconv.Atoi(args[3])
		}
		err = fsList(root, rel, limit, out)
	case "tar":
		err = fsTar(root, rel, out)
	case "untar":
		err = fsUntar(root, rel, in)
	case "rm":
		if _, err = walkNoLinks(root, rel); err == nil {
			err = os.RemoveAll(filepath.Join(root, rel))
		} else if fe := (*fsError)(nil); errors.As(err, &fe) && fe.code == fsNotFound {
			err = nil
		}
	default:
		fmt.Fprintln(errw, "fsop: unknown operation", op)
		return 2
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(errw, err)
	if fe := (*fsError)(nil); errors.As(err, &fe) {
		return fe.code
	}
	return 1
}

// walkNoLinks stats root and each element of rel below it, refusing a
// symlink or an escaping element anywhere, and returns the last stat.
func walkNoLinks(root, rel string) (fs.FileInfo, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, &fsError{fsNotFound, "the workspace is not mounted"}
	}
	p := root
	for _, el := range strings.Split(rel, "/") {
		if el == "" || el == "." {
			continue
		}
		if el == ".." {
			return nil, &fsError{fsInvalid, rel + ": \"..\" would leave the workspace"}
		}
		p = filepath.Join(p, el)
		if fi, err = os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, &fsError{fsNotFound, rel + " does not exist in the workspace"}
		} else if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, &fsError{fsInvalid, strings.TrimPrefix(p, root+"/") + " is a symlink: the files API does not follow links"}
		}
	}
	return fi, nil
}

func fsList(root, rel string, limit int, out io.Writer) error {
	fi, err := walkNoLinks(root, rel)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fsError{fsNotDir, rel + " is not a directory"}
	}
	d, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	defer d.Close()
	entries := []fsEntry{}
	for len(entries) < limit {
		batch, err := d.Readdir(min(256, limit-len(entries)))
		for _, e := range batch {
			entries = append(entries, entryOf(e))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return json.NewEncoder(out).Encode(entries)
}

func fsTar(root, rel string, out io.Writer) error {
	if _, err := walkNoLinks(root, rel); err != nil {
		return err
	}
	top := filepath.Join(root, rel)
	base := filepath.Dir(top)
	tw := tar.NewWriter(out)
	err := filepath.Walk(top, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // a socket or device: not archived
		}
		name, _ := filepath.Rel(base, p)
		h.Name = filepath.ToSlash(name)
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, h.Size)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// fsUntar extracts regular files and directories only; Warder has
// checked the tar already, and this refuses again what it must never do.
func fsUntar(root, dir string, in io.Reader) error {
	fi, err := walkNoLinks(root, dir)
	if fe := (*fsError)(nil); errors.As(err, &fe) && fe.code == fsNotFound {
		// Make what is missing, refusing links on the way.
		p := root
		for _, el := range strings.Split(dir, "/") {
			if el == "" {
				continue
			}
			p = filepath.Join(p, el)
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if st, err := os.Lstat(p); err != nil || !st.IsDir() {
				return &fsError{fsNotDir, strings.TrimPrefix(p, root+"/") + " exists and is not a directory"}
			}
		}
	} else if err != nil {
		return err
	} else if !fi.IsDir() {
		return &fsError{fsNotDir, dir + " exists and is not a directory"}
	}
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return &fsError{fsInvalid, h.Name + ": the name leaves the workspace"}
		}
		rel := path.Join(dir, name)
		parent, _ := path.Split(rel)
		if pfi, err := walkNoLinks(root, strings.TrimSuffix(parent, "/")); err != nil {
			return err
		} else if !pfi.IsDir() {
			return &fsError{fsNotDir, parent + " is not a directory"}
		}
		p := filepath.Join(root, rel)
		if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return &fsError{fsInvalid, rel + " is a symlink: the files API does not follow links"}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case tar.TypeReg:
			if st, err := os.Lstat(p); err == nil && st.IsDir() {
				return &fsError{fsNotDir, rel + " is a directory"}
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fs.FileMode(h.Mode).Perm()|0o600)
			if err != nil {
				return err
			}
			_, err = io.CopyN(f, tr, h.Size)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return &fsError{fsInvalid, h.Name + ": only files and directories can be uploaded"}
		}
	}
}
