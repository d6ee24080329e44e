package fsat

import (
	"archive/tar"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The operations below never resolve a path by name from "/": each
// element is opened relative to its parent's descriptor with O_NOFOLLOW,
// so the kernel itself refuses a link wherever and whenever one appears,
// and a directory swapped for a link after it was checked cannot
// redirect anything (there is no check-then-use gap).

// MaxDepth bounds the nesting a download or a removal walks (each level
// holds a descriptor while it is walked): deeper than any path the
// kernel resolves (PATH_MAX is 4096 bytes), so whatever an agent or an
// upload (MaxUploadDepth) made can be deleted.
const MaxDepth = 2048

const (
	dirFlags  = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	readFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
)

// openRoot opens the workspace root itself (which the helper's mount
// makes, so it is not the agent's to replace).
func openRoot(p string) (*os.File, error) {
	fd, err := unix.Open(p, dirFlags, 0)
	if err != nil {
		return nil, &fsError{NotFound, "the workspace is not mounted"}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// elements splits a cleaned relative path, refusing what would leave the
// root.
func elements(rel string) ([]string, error) {
	var out []string
	for _, el := range strings.Split(rel, "/") {
		switch el {
		case "", ".":
			continue
		case "..":
			return nil, &fsError{Invalid, rel + ": \"..\" would leave the workspace"}
		}
		if len(el) > 255 {
			return nil, &fsError{Invalid, rel + ": a name in the path is longer than 255 bytes"}
		}
		out = append(out, el)
	}
	return out, nil
}

// openDirAt opens the directory els below dir, element by element; with
// create, missing elements are made (mode 0755, the caller's owner) and
// made reports the first one made. The caller closes the result.
func openDirAt(dir *os.File, els []string, create bool) (f *os.File, made string, err error) {
	fd, err := unix.Dup(int(dir.Fd()))
	if err != nil {
		return nil, "", err
	}
	unix.CloseOnExec(fd)
	for i, el := range els {
		nfd, err := unix.Openat(fd, el, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if merr := unix.Mkdirat(fd, el, 0o755); merr == nil {
				if made == "" {
					made = path.Join(els[:i+1]...)
				}
			} else if !errors.Is(merr, unix.EEXIST) {
				unix.Close(fd)
				return nil, made, errnoError(path.Join(els[:i+1]...), merr)
			}
			nfd, err = unix.Openat(fd, el, dirFlags, 0)
		}
		if err != nil {
			err = classify(fd, el, err)
			unix.Close(fd)
			return nil, made, errnoError(path.Join(els[:i+1]...), err)
		}
		unix.Close(fd)
		fd = nfd
	}
	return os.NewFile(uintptr(fd), path.Join(els...)), made, nil
}

// classify tells a link from a non-directory when opening el as a
// directory failed with ENOTDIR (the kernel reports a link met with
// O_DIRECTORY|O_NOFOLLOW so).
func classify(dirfd int, el string, err error) error {
	if !errors.Is(err, unix.ENOTDIR) {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(dirfd, el, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.ELOOP
	}
	return err
}

// lstatAt stats name in dir without following it.
func lstatAt(dir *os.File, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// modeOf is st's type and permissions as an fs.FileMode.
func modeOf(st *unix.Stat_t) fs.FileMode {
	m := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func entryOfStat(name string, st *unix.Stat_t) Entry {
	return Entry{Name: name, Mode: modeOf(st), Size: st.Size, MTime: time.Unix(st.Mtim.Unix()).UnixNano()}
}

// parentOf opens rel's parent directory (rel has at least one element)
// and returns it with rel's last element.
func parentOf(root *os.File, rel string, create bool) (*os.File, string, string, error) {
	els, err := elements(rel)
	if err != nil {
		return nil, "", "", err
	}
	if len(els) == 0 {
		return nil, "", "", nil
	}
	dir, made, err := openDirAt(root, els[:len(els)-1], create)
	return dir, els[len(els)-1], made, err
}

// statAt describes rel; a link as rel itself is refused like one on the
// way.
func statAt(root *os.File, rel string) (Entry, error) {
	dir, name, _, err := parentOf(root, rel, false)
	if err != nil {
		return Entry{}, err
	}
	if dir == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(root.Fd()), &st); err != nil {
			return Entry{}, err
		}
		return entryOfStat("data", &st), nil
	}
	defer dir.Close()
	st, err := lstatAt(dir, name)
	if err != nil {
		return Entry{}, errnoError(rel, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return Entry{}, errnoError(rel, unix.ELOOP)
	}
	return entryOfStat(name, &st), nil
}

// listAt writes the JSON array of rel's direct entries, at most limit:
// it reads that one directory and stats each entry relative to it.
func listAt(root *os.File, rel string, limit int, out io.Writer) error {
	els, err := elements(rel)
	if err != nil {
		return err
	}
	dir, _, err := openDirAt(root, els, false)
	if err != nil {
		return err
	}
	defer dir.Close()
	entries := []Entry{}
	for len(entries) < limit {
		names, err := dir.Readdirnames(min(256, limit-len(entries)))
		for _, n := range names {
			st, serr := lstatAt(dir, n)
			if serr != nil {
				continue // removed meanwhile
			}
			entries = append(entries, entryOfStat(n, &st))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return errnoError(rel, err)
		}
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return json.NewEncoder(out).Encode(entries)
}

// tarAt writes rel (a file or a tree) as a tar, names relative to rel's
// parent ("data" for the root itself). Links are written as links;
// sockets, FIFOs and devices are left out.
func tarAt(root *os.File, rel string, out io.Writer) error {
	tw := tar.NewWriter(out)
	dir, name, _, err := parentOf(root, rel, false)
	if err != nil {
		return err
	}
	if dir == nil {
		if err := tarDir(tw, root, "data", 0); err != nil {
			return err
		}
		return tw.Close()
	}
	defer dir.Close()
	st, err := lstatAt(dir, name)
	if err != nil {
		return errnoError(rel, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errnoError(rel, unix.ELOOP)
	}
	if err := tarEntry(tw, dir, name, name, 0); err != nil {
		return err
	}
	return tw.Close()
}

// tarEntry archives name (in dir) as tarName.
func tarEntry(tw *tar.Writer, dir *os.File, name, tarName string, depth int) error {
	st, err := lstatAt(dir, name)
	if err != nil {
		return nil // removed meanwhile
	}
	h := &tar.Header{Name: tarName, Mode: int64(st.Mode & 0o7777), ModTime: time.Unix(st.Mtim.Unix()),
		Uid: int(st.Uid), Gid: int(st.Gid)}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		sub, _, err := openDirAt(dir, []string{name}, false)
		if err != nil {
			return nil // replaced meanwhile: left out
		}
		defer sub.Close()
		return tarDir(tw, sub, tarName, depth+1)
	case unix.S_IFLNK:
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		if err != nil {
			return nil
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, string(buf[:n])
		return tw.WriteHeader(h)
	case unix.S_IFREG:
		fd, err := unix.Openat(int(dir.Fd()), name, readFlags, 0)
		if err != nil {
			return nil // replaced by a link, or unreadable: left out
		}
		f := os.NewFile(uintptr(fd), tarName)
		defer f.Close()
		var fst unix.Stat_t
		if unix.Fstat(fd, &fst) != nil || fst.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil
		}
		h.Typeflag, h.Size = tar.TypeReg, fst.Size
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		// A file that shrinks meanwhile is padded with zeros, one that
		// grows is cut: the header's size is what is sent.
		n, err := io.Copy(tw, io.LimitReader(f, fst.Size))
		if err != nil {
			return err
		}
		_, err = io.CopyN(tw, zeros{}, fst.Size-n)
		return err
	}
	return nil
}

// tarDir archives the open directory dir as tarName and what is in it.
func tarDir(tw *tar.Writer, dir *os.File, tarName string, depth int) error {
	if depth > MaxDepth {
		return &fsError{Invalid, tarName + ": nested deeper than " + strconv.Itoa(MaxDepth) + " directories"}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return err
	}
	h := &tar.Header{Name: tarName + "/", Typeflag: tar.TypeDir, Mode: int64(st.Mode & 0o7777),
		ModTime: time.Unix(st.Mtim.Unix()), Uid: int(st.Uid), Gid: int(st.Gid)}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	for {
		names, err := dir.Readdirnames(256)
		for _, n := range names {
			if err := tarEntry(tw, dir, n, tarName+"/"+n, depth); err != nil {
				return err
			}
		}
		if err == io.EOF || len(names) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// removeAt deletes rel and, for a directory, what is under it; a link is
// removed itself. Absent is success.
func removeAt(root *os.File, rel string) error {
	dir, name, _, err := parentOf(root, rel, false)
	if fe := (*fsError)(nil); errors.As(err, &fe) && fe.code == NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if dir == nil {
		return &fsError{Invalid, "the workspace root cannot be deleted"}
	}
	defer dir.Close()
	return removeEntry(dir, name, rel, 0)
}

// removeEntry deletes name in dir, a directory's content first.
func removeEntry(dir *os.File, name, rel string, depth int) error {
	st, err := lstatAt(dir, name)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return errnoError(rel, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if depth > MaxDepth {
			return &fsError{Invalid, rel + ": nested deeper than " + strconv.Itoa(MaxDepth) + " directories"}
		}
		sub, _, err := openDirAt(dir, []string{name}, false)
		if err == nil {
			for {
				names, rerr := sub.Readdirnames(256)
				for _, n := range names {
					if err := removeEntry(sub, n, rel+"/"+n, depth+1); err != nil {
						sub.Close()
						return err
					}
				}
				if rerr != nil || len(names) == 0 {
					break
				}
			}
			sub.Close()
		}
		if err := unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
			return errnoError(rel, err)
		}
		return nil
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return errnoError(rel, err)
	}
	return nil
}

// MaxUploadDepth bounds the directories an upload's entry may be nested
// in: what the API makes, it can list, download and delete.
const MaxUploadDepth = 256

// untarAt extracts the tar in into directory rel, made if missing.
// Regular files and directories only: Warder has checked the tar
// already, and this refuses again what it must never do.
//
// It is all or nothing, as far as a filesystem allows: each file is
// written to a new hidden name beside its place, and only once the whole
// tar is in are they renamed over what was there; if anything fails (a
// link met, the disk full, the input cut), the new files and the
// directories it made are removed and what was there before is as it
// was, at a cost that does not grow with anything but the upload.
func untarAt(root *os.File, rel string, in io.Reader) (err error) {
	els, err := elements(rel)
	if err != nil {
		return err
	}
	u := &upload{root: root, base: els}
	defer func() {
		if err != nil {
			u.undo()
		}
	}()
	target, madeDir, err := openDirAt(root, els, true)
	if madeDir != "" {
		u.madeTarget = madeDir
	}
	if err != nil {
		return err
	}
	target.Close()
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return u.commit()
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) {
			return &fsError{Invalid, h.Name + ": the name leaves the workspace"}
		}
		parts, err := elements(name)
		if err != nil {
			return err
		}
		if len(parts) > MaxUploadDepth {
			return &fsError{Invalid, h.Name + ": nested deeper than " + strconv.Itoa(MaxUploadDepth) + " directories"}
		}
		if err := u.entry(parts, h, tr, path.Join(rel, name)); err != nil {
			return err
		}
	}
}

// upload is an extraction under way: what it made, to undo or commit.
type upload struct {
	root       *os.File
	base       []string // the target directory's elements
	madeTarget string   // the target's first directory this upload made
	madeDirs   [][]string
	staged     []staged
}

// staged is a file written under a hidden name, to be renamed to its own.
type staged struct {
	dir       []string // its directory's elements, from the root
	tmp, name string
	rel       string
}

// openDir opens (making what is missing, and noting what it made) the
// directory parts below the target.
func (u *upload) openDir(parts []string) (*os.File, error) {
	dir, _, err := openDirAt(u.root, u.base, false)
	if err != nil {
		return nil, err
	}
	for i, el := range parts {
		nfd, err := unix.Openat(int(dir.Fd()), el, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) {
			if merr := unix.Mkdirat(int(dir.Fd()), el, 0o755); merr == nil {
				u.madeDirs = append(u.madeDirs, slices.Concat(u.base, parts[:i+1]))
			} else if !errors.Is(merr, unix.EEXIST) {
				dir.Close()
				return nil, errnoError(path.Join(parts[:i+1]...), merr)
			}
			nfd, err = unix.Openat(int(dir.Fd()), el, dirFlags, 0)
		}
		if err != nil {
			err = classify(int(dir.Fd()), el, err)
			dir.Close()
			return nil, errnoError(path.Join(parts[:i+1]...), err)
		}
		dir.Close()
		dir = os.NewFile(uintptr(nfd), el)
	}
	return dir, nil
}

// entry makes one entry: a directory at once, a file staged.
func (u *upload) entry(parts []string, h *tar.Header, r io.Reader, rel string) error {
	switch h.Typeflag {
	case tar.TypeDir:
		d, err := u.openDir(parts)
		if err != nil {
			return err
		}
		return d.Close()
	case tar.TypeReg, tar.TypeRegA:
	default:
		return &fsError{Invalid, h.Name + ": only files and directories can be uploaded"}
	}
	dir, err := u.openDir(parts[:len(parts)-1])
	if err != nil {
		return err
	}
	defer dir.Close()
	base := parts[len(parts)-1]
	if st, err := lstatAt(dir, base); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return &fsError{NotDir, rel + " is a directory"}
	}
	tmp := ".warder-upload-" + randomName()
	perm := uint32(h.Mode&0o777) | 0o600
	fd, err := unix.Openat(int(dir.Fd()), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return errnoError(rel, err)
	}
	u.staged = append(u.staged, staged{dir: slices.Concat(u.base, parts[:len(parts)-1]), tmp: tmp, name: base, rel: rel})
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if _, err := io.CopyN(f, r, h.Size); err != nil {
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			return errnoError(rel, err)
		}
		return err
	}
	if err := f.Close(); err != nil {
		return errnoError(rel, err)
	}
	return nil
}

// commit renames every staged file to its own name, replacing what is
// there (a link there is replaced, never followed).
func (u *upload) commit() error {
	for i, st := range u.staged {
		dir, _, err := openDirAt(u.root, st.dir, false)
		if err != nil {
			u.staged = u.staged[i:]
			return err
		}
		err = unix.Renameat(int(dir.Fd()), st.tmp, int(dir.Fd()), st.name)
		dir.Close()
		if err != nil {
			u.staged = u.staged[i:]
			return errnoError(st.rel, err)
		}
	}
	u.staged = nil
	return nil
}

// undo removes the staged files and the directories the upload made
// (those still empty: what the agent put in one meanwhile stays).
func (u *upload) undo() {
	for _, st := range u.staged {
		if dir, _, err := openDirAt(u.root, st.dir, false); err == nil {
			unix.Unlinkat(int(dir.Fd()), st.tmp, 0)
			dir.Close()
		}
	}
	for i := len(u.madeDirs) - 1; i >= 0; i-- {
		d := u.madeDirs[i]
		if parent, _, err := openDirAt(u.root, d[:len(d)-1], false); err == nil {
			unix.Unlinkat(int(parent.Fd()), d[len(d)-1], unix.AT_REMOVEDIR)
			parent.Close()
		}
	}
	if u.madeTarget != "" {
		removeAt(u.root, u.madeTarget)
	}
}

// randomName is 16 random hex digits.
func randomName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
