package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// fsop is the workspace's file operations: Warder runs it in a helper
// container (Docker) or Pod (Kubernetes) that mounts only the workspace,
// as the agent's user, so what it makes is the agent's and it can reach
// only what the agent can. Every path is ROOT and a relative path below
// it, resolved one element at a time from ROOT's descriptor with
// O_NOFOLLOW (see fsat.go): a symlink anywhere on the way is refused at
// the moment it is met, so a link the agent makes at any depth, before or
// during the call, is never followed, and nothing outside ROOT is read or
// written.
//
//	fsop stat ROOT REL        one JSON fsEntry
//	fsop list ROOT REL LIMIT  a JSON array of the directory's entries
//	                          (reads that directory only)
//	fsop tar ROOT REL         REL (a file or a tree) as a tar on stdout,
//	                          names relative to REL's parent; links are
//	                          written as links, never followed
//	fsop untar ROOT DIR       the tar on stdin extracted into DIR (made
//	                          if missing); links and escaping names
//	                          refused; on failure, what it made at the
//	                          top (DIR itself, or new top-level names) is
//	                          removed again before it exits
//	fsop rm ROOT REL          REL and everything under it (a link itself,
//	                          never its target); absent is fine
//
// A first argument -as-owner (the helper started as root with only
// CAP_SETUID and CAP_SETGID) makes fsop become the owner of ROOT before
// anything else: for agents whose user is a name only their image knows.
//
// Exit codes: internal/fsop's (which the agent does not import, to stay
// small; TestFsopCodes checks they agree): 0 ok, 1 failed, 2 usage, 3 not
// found, 4 a link or an invalid name, 5 not a directory, 6 refused by the
// filesystem, 7 the workspace is full.
const (
	fsNotFound = 3
	fsInvalid  = 4
	fsNotDir   = 5
	fsConflict = 6
	fsFull     = 7
)

// fsEntry is one file as fsop reports it.
type fsEntry struct {
	Name  string      `json:"name"`
	Mode  fs.FileMode `json:"mode"`
	Size  int64       `json:"size"`
	MTime int64       `json:"mtime_ns"`
}

// fsError carries an exit code with its message.
type fsError struct {
	code int
	msg  string
}

func (e *fsError) Error() string { return e.msg }

// tarBuffer is what fsop tar gathers before each write to its output.
const tarBuffer = 1 << 20

func builtinFsop(args []string, in io.Reader, out, errw io.Writer) int {
	if len(args) > 0 && args[0] == "-as-owner" {
		args = args[1:]
		if len(args) >= 2 {
			if err := becomeOwner(args[1]); err != nil {
				fmt.Fprintln(errw, "fsop:", err)
				return 1
			}
		}
	}
	if len(args) < 3 {
		fmt.Fprintln(errw, "usage: fsop [-as-owner] stat|list|tar|untar|rm ROOT REL [LIMIT]")
		return 2
	}
	op, rootPath, rel := args[0], args[1], args[2]
	root, err := openRoot(rootPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return fsNotFound
	}
	defer root.Close()
	switch op {
	case "stat":
		var e fsEntry
		if e, err = statAt(root, rel); err == nil {
			err = json.NewEncoder(out).Encode(e)
		}
	case "list":
		limit := 1000
		if len(args) > 3 {
			limit, _ = strconv.Atoi(args[3])
		}
		err = listAt(root, rel, limit, out)
	case "tar":
		// Written in large pieces: each write to an exec's stdout is a
		// frame the engine copies through its own buffers, and a tar
		// written as it is made (512-byte headers, 32 KiB of content at
		// a time) crosses that path far more often than it needs to.
		bw := bufio.NewWriterSize(out, tarBuffer)
		if err = tarAt(root, rel, bw); err == nil {
			err = bw.Flush()
		}
	case "untar":
		err = untarAt(root, rel, in)
	case "rm":
		err = removeAt(root, rel)
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

// becomeOwner takes on the uid and gid owning root (65534 for a root
// owned by root), with no supplementary groups, for every thread.
func becomeOwner(root string) error {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return err
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if uid == 0 {
		uid, gid = 65534, 65534
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return err
	}
	return syscall.Setresuid(uid, uid, uid)
}

// errnoError turns a system call's refusal on rel into an fsError whose
// code says what kind of refusal it was.
func errnoError(rel string, err error) error {
	if fe := (*fsError)(nil); errors.As(err, &fe) {
		return err
	}
	if rel == "" {
		rel = "the workspace root"
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		return &fsError{fsNotFound, rel + " does not exist in the workspace"}
	case errors.Is(err, unix.ELOOP):
		return &fsError{fsInvalid, rel + " is a symlink: the files API does not follow links"}
	case errors.Is(err, unix.ENOTDIR):
		return &fsError{fsNotDir, rel + ": a part of the path is not a directory"}
	case errors.Is(err, unix.ENAMETOOLONG):
		return &fsError{fsInvalid, rel + ": a name in the path is longer than 255 bytes"}
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return &fsError{fsFull, rel + ": the workspace is full"}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.EROFS):
		return &fsError{fsConflict, rel + ": permission denied (the agent's own permissions apply)"}
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.EISDIR), errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.ENXIO):
		return &fsError{fsConflict, rel + ": " + err.Error()}
	}
	return fmt.Errorf("%s: %w", rel, err)
}
